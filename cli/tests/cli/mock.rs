//! `concord mock` as a long-running server: the upstream of a load test serves tens of
//! thousands of requests in flat memory (it keeps no request log unless asked).

use futures_util::StreamExt;

/// The process's resident memory in KiB (`VmRSS` in `/proc/<pid>/status`; Linux).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("procfs");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line")
}

async fn send(client: &reqwest::Client, url: &str, n: usize) {
    // A small chat request with a distinct prompt each time, 16 at once.
    futures_util::stream::iter(0..n)
        .for_each_concurrent(16, |i| async move {
            let body = serde_json::json!({
                "model": "m",
                "messages": [{"role": "user", "content": format!("request {i}: tell me about the weather in Paris")}],
            });
            let resp = client
                .post(url)
                .bearer_auth("sk-load-test-1234")
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .expect("the mock answers");
            assert_eq!(resp.status(), 200);
            resp.bytes().await.expect("a whole answer");
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_serves_fifty_thousand_requests_in_flat_memory() {
    let (mut child, base) =
        crate::common::start_mock(&["--protocol", "openai", "--scenario", "text"]).await;
    let url = format!("{base}/chat/completions");
    let client = reqwest::Client::new();
    // Warm up: connection pools, the allocator's arenas, lazily built tables.
    send(&client, &url, 5_000).await;
    let before = rss_kib(child.id());
    send(&client, &url, 45_000).await;
    let after = rss_kib(child.id());
    child.kill().unwrap();
    let _ = child.wait();
    // A kept log grows about 2.4 KB a request: 45,000 requests would add ~100 MB.
    let grown = after.saturating_sub(before);
    assert!(
        grown < 4 * 1024,
        "memory grew {grown} KiB over 45,000 requests ({before} → {after} KiB)"
    );
}
