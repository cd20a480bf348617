//! The OpenAI door in-process: answers in Chat Completions' shape from any vendor, streams
//! re-encoded as they come, every call recorded with its cost, and each kind of bad input
//! answered with its own status and an error naming what is wrong.

use concord_harness::Protocol;
use serde_json::{json, Value};

use crate::common::{deploy, Deployment};

const HELLO: &str =
    r#"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}"#;

async fn body(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| json!({"raw": text})),
    )
}

/// The `data:` payloads of an SSE body.
fn events(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter_map(|frame| frame.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

async fn openai() -> Deployment {
    deploy("openai", &[("openai", "openai", Protocol::Openai, "text")]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_answers_in_openai_shape_with_its_cost_and_is_recorded() {
    let d = openai().await;
    let r = d.post("/v1/chat/completions", HELLO).await;
    assert_eq!(r.headers()["x-concord-provider"], "openai");
    // gpt-4o-mini at 0.15 / 0.60 per million (the vendored snapshot); the mock reports 19 in
    // and 10 out: 19 × 0.15 + 10 × 0.60 = 8.85 µ$.
    assert_eq!(r.headers()["x-concord-cost-usd"], "0.00000885");
    // The server's own time: a small positive number of milliseconds, below the whole call's.
    let overhead: f64 = r.headers()["x-concord-overhead-ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.0..1000.0).contains(&overhead), "{overhead}");
    let (status, v) = body(r).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["id"], "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG");
    assert_eq!(v["model"], "gpt-4o-mini-2024-07-18");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Hello! How can I help you today?"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["prompt_tokens"], 19);
    assert_eq!(v["usage"]["completion_tokens"], 10);
    // What reached the vendor: the model the route chose, the vendor's key (not the tenant's).
    let sent = d.mocks[0].requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body["model"], "gpt-4o-mini");
    assert_eq!(sent[0].credential(), Some(crate::common::VENDOR_KEY));
    d.server.recorder.flush().await;
    let records = d.server.models.store().calls(0).await.unwrap();
    assert_eq!(records.len(), 1);
    let rec = &records[0];
    assert_eq!(rec.tenant.as_deref(), Some("team-a"));
    assert_eq!(
        (rec.provider.as_str(), rec.model.as_str()),
        ("openai", "gpt-4o-mini")
    );
    assert_eq!(rec.outcome, "ok");
    assert_eq!(rec.cost.map(|c| c.dollars()).as_deref(), Some("0.00000885"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openai_client_talks_to_claude() {
    let d = deploy(
        "cross",
        &[("anthropic", "anthropic", Protocol::Anthropic, "text")],
    )
    .await;
    let r = d
        .post(
            "/v1/chat/completions",
            r#"{"model": "anthropic/claude-sonnet-4-5", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "Hello"}], "max_tokens": 100}"#,
        )
        .await;
    let (status, v) = body(r).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["model"], "claude-sonnet-4-5-20250929");
    assert_eq!(v["usage"]["prompt_tokens"], 21);
    let sent = d.mocks[0].requests();
    let wire = &sent[0].body;
    assert_eq!(wire["system"], "be brief", "{wire}");
    assert_eq!(wire["max_tokens"], 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_is_reencoded_chunk_by_chunk_and_ends_with_done() {
    let d = openai().await;
    let r = d
        .post(
            "/v1/chat/completions",
            r#"{"model": "gpt-4o-mini", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "Hello"}]}"#,
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let text = r.text().await.unwrap();
    let events = events(&text);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{text}");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk"));
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "Hello! How can I help you today?");
    let finish: Vec<&Value> = chunks
        .iter()
        .map(|c| &c["choices"][0]["finish_reason"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finish, [&json!("stop")]);
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["total_tokens"], 29);
    d.server.recorder.flush().await;
    let records = d.server.models.store().calls(0).await.unwrap();
    assert!(records[0].stream);
    assert_eq!(records[0].outcome, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_cut_upstream_ends_with_an_error_event_not_done() {
    let d = deploy(
        "cut",
        &[("openai", "openai", Protocol::Openai, "truncated")],
    )
    .await;
    let r = d
        .post(
            "/v1/chat/completions",
            r#"{"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "Hello"}]}"#,
        )
        .await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let events = events(&text);
    assert!(!events.iter().any(|e| e == "[DONE]"), "{text}");
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert!(last["error"]["message"].is_string(), "{last}");
    d.server.recorder.flush().await;
    let records = d.server.models.store().calls(0).await.unwrap();
    assert_eq!(records[0].outcome, "stream_interrupted");
    assert_eq!(
        records[0].cost, None,
        "no cost is invented for a cut stream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_its_own_status_and_names_what_is_wrong() {
    let d = openai().await;
    let url = format!("{}/v1/chat/completions", d.base);
    // No key, a wrong key.
    let (status, v) = body(d.client.post(&url).body(HELLO).send().await.unwrap()).await;
    assert_eq!(
        (status, v["error"]["type"].as_str()),
        (401, Some("authentication_error"))
    );
    let (status, v) = body(
        d.client
            .post(&url)
            .bearer_auth("sk-concord-not-a-key")
            .body(HELLO)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        !v.to_string().contains("not-a-key"),
        "the key is not echoed: {v}"
    );
    for (input, want_status, want_param) in [
        ("{\"model\": ", 400, None),
        ("[1, 2]", 400, None),
        (
            r#"{"model": "gpt-4o-mini", "messages": [], "logit_bias": {"50256": -100}}"#,
            400,
            Some("logit_bias"),
        ),
        (
            r#"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi", "name": "bob"}]}"#,
            400,
            Some("messages[0].name"),
        ),
        (
            r#"{"model": "gpt-4o-mini", "messages": "hi"}"#,
            400,
            Some("messages"),
        ),
        (
            r#"{"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]}"#,
            404,
            None,
        ),
    ] {
        let (status, v) = body(d.post("/v1/chat/completions", input).await).await;
        assert_eq!(status, want_status, "{input}: {v}");
        assert!(v["error"]["message"].is_string(), "{input}: {v}");
        assert_eq!(v["error"]["param"].as_str(), want_param, "{input}: {v}");
    }
    // Invalid UTF-8 and a body over the limit (64 KiB in these tests).
    let r = d
        .client
        .post(&url)
        .bearer_auth(&d.key)
        .body(b"{\"model\": \"\xff\"}".to_vec())
        .send()
        .await
        .unwrap();
    let (status, v) = body(r).await;
    assert_eq!(status, 400);
    assert!(
        v["error"]["message"].as_str().unwrap().contains("UTF-8"),
        "{v}"
    );
    let huge = format!(
        r#"{{"model": "gpt-4o-mini", "messages": [{{"role": "user", "content": "{}"}}]}}"#,
        "x".repeat(100 * 1024)
    );
    let (status, v) = body(d.post("/v1/chat/completions", &huge).await).await;
    assert_eq!(status, 413, "{v}");
    assert!(v["error"]["message"].is_string());
    // None of these reached the vendor.
    assert!(d.mocks[0].requests().is_empty());
    // A disabled tenant: 403, until enabled again.
    d.server.tenants.set_disabled("team-a", true).await.unwrap();
    let (status, v) = body(d.post("/v1/chat/completions", HELLO).await).await;
    assert_eq!(
        (status, v["error"]["type"].as_str()),
        (403, Some("permission_error"))
    );
    d.server
        .tenants
        .set_disabled("team-a", false)
        .await
        .unwrap();
    let (status, _) = body(d.post("/v1/chat/completions", HELLO).await).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_lists_what_can_be_called_and_health_says_why() {
    let d = openai().await;
    let r = d
        .client
        .get(format!("{}/v1/models", d.base))
        .bearer_auth(&d.key)
        .send()
        .await
        .unwrap();
    let (status, v) = body(r).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"openai/gpt-4o-mini"), "{ids:?}");
    assert!(
        ids.iter().all(|id| id.starts_with("openai/")),
        "only registered providers' models: {ids:?}"
    );
    let (status, v) = body(
        d.client
            .get(format!("{}/health/ready", d.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["ready"], true);
    assert_eq!(v["providers"][0]["name"], "openai");
    let (status, _) = body(
        d.client
            .get(format!("{}/health/live", d.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_refusal_keeps_its_kind_and_when_to_come_back() {
    // The vendor answers 429 with `retry-after-ms: 1500`: the client gets 429, the OpenAI
    // error shape and `Retry-After: 2` (seconds, rounded up).
    let d = deploy(
        "ratelimited",
        &[(
            "openai",
            "openai",
            Protocol::Openai,
            "error_rate_limited_ms",
        )],
    )
    .await;
    let r = d.post("/v1/chat/completions", HELLO).await;
    assert_eq!(r.headers()["retry-after"], "2");
    let (status, v) = body(r).await;
    assert_eq!(status, 429, "{v}");
    assert_eq!(v["error"]["type"], "rate_limit_error");
    d.server.recorder.flush().await;
    let records = d.server.models.store().calls(0).await.unwrap();
    assert_eq!(records[0].outcome, "rate_limited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_hangs_up_mid_stream_cancels_the_call() {
    // `slow_stream` takes a while between chunks: the client reads the first and leaves.
    let d = deploy(
        "hangup",
        &[("openai", "openai", Protocol::Openai, "slow_stream")],
    )
    .await;
    let mut r = d
        .post(
            "/v1/chat/completions",
            r#"{"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "Hello"}]}"#,
        )
        .await;
    assert_eq!(r.status(), 200);
    let first = r.chunk().await.unwrap();
    assert!(first.is_some());
    drop(r);
    // The record says cancelled within a second, and no call is left in flight.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        d.server.recorder.flush().await;
        let records = d.server.models.store().calls(0).await.unwrap();
        if let Some(rec) = records.first() {
            assert_eq!(rec.outcome, "cancelled");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no record a second after the client left"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(d.server.registry.in_flight(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_time_first_tokens_and_sum_spend_without_a_secret() {
    let d = openai().await;
    assert_eq!(d.post("/v1/chat/completions", HELLO).await.status(), 200);
    let r = d
        .post(
            "/v1/chat/completions",
            r#"{"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "Hello"}]}"#,
        )
        .await;
    r.text().await.unwrap();
    d.server.recorder.flush().await;
    let r = d
        .client
        .get(format!("{}/metrics", d.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    for want in [
        r#"concord_server_requests_total{route="/v1/chat/completions",status="200"}"#,
        "concord_server_request_duration_seconds_bucket",
        r#"gen_ai_server_time_to_first_token_bucket{gen_ai_provider_name="openai",gen_ai_request_model="gpt-4o-mini""#,
        r#"concord_spend_picodollars_total{tenant="team-a",provider="openai",model="gpt-4o-mini"}"#,
        "concord_recorder_dropped_total 0",
    ] {
        assert!(text.contains(want), "{want} missing from:\n{text}");
    }
    assert!(!text.contains(&d.key), "no key in the metrics");
    assert!(!text.contains(crate::common::VENDOR_KEY));
}
