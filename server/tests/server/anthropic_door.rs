//! The Anthropic door in-process: an Anthropic client served by other vendors, its stream as
//! Messages' events, its errors in Anthropic's shape.

use concord_harness::Protocol;
use serde_json::{json, Value};

use crate::common::deploy;

async fn post(d: &crate::common::Deployment, body: &str, key: &str) -> reqwest::Response {
    d.client
        .post(format!("{}/v1/messages", d.base))
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

/// `(event, data)` of an SSE body.
fn events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|f| !f.trim().is_empty())
        .map(|frame| {
            let mut name = String::new();
            let mut data = Value::Null;
            for line in frame.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(d).unwrap();
                }
            }
            (name, data)
        })
        .collect()
}

const HELLO: &str = r#"{"model": "gpt-4o-mini", "max_tokens": 100, "system": "be brief", "messages": [{"role": "user", "content": "Hello"}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anthropic_client_talks_to_openai() {
    let d = deploy(
        "a-openai",
        &[("openai", "openai", Protocol::Openai, "text")],
    )
    .await;
    let r = post(&d, HELLO, &d.key).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-concord-cost-usd"], "0.00000885");
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(
        v["content"][0],
        json!({"type": "text", "text": "Hello! How can I help you today?"})
    );
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["usage"]["input_tokens"], 19);
    assert_eq!(v["usage"]["output_tokens"], 10);
    let wire = &d.mocks[0].requests()[0].body;
    assert_eq!(
        wire["messages"][0],
        json!({"role": "system", "content": "be brief"})
    );
    assert_eq!(wire["max_completion_tokens"], 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_is_messages_events_and_a_cut_one_ends_with_an_error_event() {
    let d = deploy(
        "a-stream",
        &[
            ("gemini", "gemini", Protocol::Gemini, "text"),
            ("openai", "openai", Protocol::Openai, "truncated"),
        ],
    )
    .await;
    let body = r#"{"model": "gemini-2.5-flash", "max_tokens": 100, "stream": true, "messages": [{"role": "user", "content": "Hello"}]}"#;
    let r = post(&d, body, &d.key).await;
    assert_eq!(r.status(), 200);
    let events = events(&r.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(&names[names.len() - 2..], ["message_delta", "message_stop"]);
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "content_block_delta")
        .filter_map(|(_, d)| d["delta"]["text"].as_str())
        .collect();
    assert!(!text.is_empty());
    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert!(delta["usage"]["output_tokens"].as_u64().unwrap() > 0);

    let cut = r#"{"model": "gpt-4o-mini", "max_tokens": 100, "stream": true, "messages": [{"role": "user", "content": "Hello"}]}"#;
    let events = events_of(post(&d, cut, &d.key).await).await;
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.last(), Some(&"error"), "{names:?}");
    assert!(!names.contains(&"message_stop"));
}

async fn events_of(r: reqwest::Response) -> Vec<(String, Value)> {
    events(&r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_in_anthropics_shape() {
    let d = deploy(
        "a-errors",
        &[("openai", "openai", Protocol::Openai, "text")],
    )
    .await;
    for (body, key, status, kind) in [
        (HELLO, "sk-concord-wrong", 401, "authentication_error"),
        (HELLO, "", 401, "authentication_error"),
        (
            r#"{"model": "gpt-4o-mini", "max_tokens": 10, "top_k": 5, "messages": [{"role": "user", "content": "hi"}]}"#,
            d.key.as_str(),
            400,
            "invalid_request_error",
        ),
        (
            r#"{"model": "nope", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}"#,
            d.key.as_str(),
            404,
            "not_found_error",
        ),
    ] {
        let r = post(&d, body, key).await;
        assert_eq!(r.status().as_u16(), status, "{body}");
        let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        assert_eq!(v["type"], "error", "{v}");
        assert_eq!(v["error"]["type"], kind, "{v}");
    }
    assert!(d.mocks[0].requests().is_empty());
}
