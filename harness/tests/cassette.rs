//! Record through the proxy against a local stand-in vendor with a fake key, replay the
//! cassette, and find no trace of the key; the scanner finds a planted key.

use concord_harness::cassette::{
    scan, Cassette, Provenance, RecordConfig, RecordingProxy, ReplayServer,
};
use concord_harness::{MockConfig, MockVendor, Protocol};
use futures_util::StreamExt;
use serde_json::{json, Value};

const KEY: &str = "sk-ant-api03-FAKEfakeFAKEfake0123456789abcdefXYZ";

async fn post(base: &str, body: &Value) -> (u16, Vec<u8>, Vec<usize>) {
    let resp = reqwest::Client::new()
        .post(format!("{base}/v1/messages"))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let mut bytes = Vec::new();
    let mut sizes = Vec::new();
    let mut s = resp.bytes_stream();
    while let Some(c) = s.next().await {
        let c = c.unwrap();
        sizes.push(c.len());
        bytes.extend_from_slice(&c);
    }
    (status, bytes, sizes)
}

#[tokio::test]
async fn a_recorded_cassette_replays_identically_and_holds_no_key() {
    let vendor = MockVendor::start_with(
        MockConfig::new(Protocol::Anthropic)
            .scenario("utf8")
            .expect_key(KEY),
    )
    .await
    .unwrap();
    let proxy = RecordingProxy::start(RecordConfig {
        upstream: vendor.url(),
        secrets: vec![],
        client: reqwest::Client::new(),
    })
    .await
    .unwrap();
    let streamed = json!({"model": "m", "max_tokens": 16, "stream": true, "messages": [{"role": "user", "content": format!("my key is {KEY}")}]});
    let buffered =
        json!({"model": "m", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]});
    let live_stream = post(&proxy.url(), &streamed).await;
    let live_buffered = post(&proxy.url(), &buffered).await;
    assert_eq!((live_stream.0, live_buffered.0), (200, 200));

    let cassette = proxy.cassette(Provenance::Recorded {
        vendor: "anthropic".into(),
        model: Some("m".into()),
        date: "2026-11-22".into(),
    });
    assert_eq!(cassette.exchanges.len(), 2);
    let dir = std::env::temp_dir().join(format!("concord-cassette-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("anthropic.json");
    cassette.save(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains(KEY) && !text.contains("FAKEfakeFAKE"),
        "the key leaked into the cassette:\n{text}"
    );
    assert!(text.contains("[REDACTED]"));
    assert!(
        scan::scan_dir(&dir).unwrap().is_empty(),
        "the scanner must pass a redacted cassette"
    );
    assert_eq!(Cassette::load(&path).unwrap(), cassette);

    // The vendor's chunking is kept: the stream had one chunk per 3 bytes.
    let chunks = cassette.exchanges[0].response.chunks.as_ref().unwrap();
    assert!(
        chunks.len() > 20 && chunks.iter().any(|c| c.hex.is_some()),
        "chunks split inside characters are kept as bytes"
    );

    // Replay gives the same bytes, and the request that mentions the key still matches
    // (the recorded body was redacted, so the replayed request is redacted the same way first).
    let replay = ReplayServer::start(&path, 0).await.unwrap();
    let again = post(&replay.url(), &buffered).await;
    assert_eq!(again.1, live_buffered.1);
    let mut redacted_stream = streamed.clone();
    redacted_stream["messages"][0]["content"] = json!("my key is [REDACTED]");
    let again = post(&replay.url(), &redacted_stream).await;
    assert_eq!(again.1, live_stream.1, "replayed stream bytes differ");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_replay_miss_answers_with_a_diff() {
    let vendor = MockVendor::start(Protocol::Anthropic, "text")
        .await
        .unwrap();
    let proxy = RecordingProxy::start(RecordConfig {
        upstream: vendor.url(),
        secrets: vec![],
        client: reqwest::Client::new(),
    })
    .await
    .unwrap();
    post(&proxy.url(), &json!({"model": "m", "max_tokens": 16, "messages": [{"role": "user", "content": "hello"}]})).await;
    let replay = ReplayServer::serve(
        proxy.cassette(Provenance::Synthesised { doc: "test".into() }),
        0,
    )
    .await
    .unwrap();
    let (status, body, _) = post(&replay.url(), &json!({"model": "m", "max_tokens": 16, "messages": [{"role": "user", "content": "goodbye"}]})).await;
    assert_eq!(status, 404);
    let message = serde_json::from_slice::<Value>(&body).unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("-")
            && message.contains("\"hello\"")
            && message.contains("+")
            && message.contains("\"goodbye\""),
        "{message}"
    );
}

#[test]
fn the_scanner_finds_a_key_planted_in_a_fixture_tree() {
    let dir = std::env::temp_dir().join(format!("concord-scan-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("openai/text")).unwrap();
    std::fs::write(dir.join("openai/text/response.json"), "{\n  \"ok\": 1\n}\n").unwrap();
    std::fs::write(dir.join("openai/text/scenario.json"), "{\n  \"headers\": {\n    \"authorization\": \"Bearer sk-proj-Zq8vR2mK9pL4tW7nB3xC6yH1\"\n  }\n}\n").unwrap();
    let findings = scan::scan_dir(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(!findings.is_empty());
    assert!(
        findings
            .iter()
            .all(|f| f.path.ends_with("openai/text/scenario.json") && f.line == 3),
        "{findings:?}"
    );
}

#[test]
fn the_committed_fixtures_hold_no_secret() {
    let findings = scan::scan_dir(&concord_harness::scenario::fixtures_dir()).unwrap();
    assert!(
        findings.is_empty(),
        "secrets in fixtures/:\n{}",
        findings
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
