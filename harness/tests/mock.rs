//! The mock vendors: framing on the wire, vendor-faithful validation, timing and cut faults,
//! and the request log.

use std::time::{Duration, Instant};

use concord_harness::{MockConfig, MockVendor, Protocol};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A minimal valid request body and path for each protocol.
fn call(protocol: Protocol, stream: bool) -> (String, Value) {
    match protocol {
        Protocol::Openai => (
            "/v1/chat/completions".into(),
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": stream}),
        ),
        Protocol::OpenaiResponses => (
            "/v1/responses".into(),
            json!({"model": "m", "input": "hi", "stream": stream}),
        ),
        Protocol::Anthropic => (
            "/v1/messages".into(),
            json!({"model": "m", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}], "stream": stream}),
        ),
        Protocol::Gemini => (
            if stream {
                "/v1beta/models/m:streamGenerateContent?alt=sse".into()
            } else {
                "/v1beta/models/m:generateContent".into()
            },
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
        ),
    }
}

fn auth(protocol: Protocol, key: &str) -> Vec<(&'static str, String)> {
    match protocol {
        Protocol::Openai | Protocol::OpenaiResponses => {
            vec![("authorization", format!("Bearer {key}"))]
        }
        Protocol::Anthropic => vec![
            ("x-api-key", key.into()),
            ("anthropic-version", "2023-06-01".into()),
        ],
        Protocol::Gemini => vec![("x-goog-api-key", key.into())],
    }
}

async fn send(
    mock: &MockVendor,
    path: &str,
    headers: &[(&str, String)],
    body: &Value,
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!("{}{path}", mock.url()))
        .json(body);
    for (n, v) in headers {
        req = req.header(*n, v);
    }
    req.send().await.expect("the mock answers")
}

async fn raw_http(
    mock: &MockVendor,
    path: &str,
    headers: &[(&str, String)],
    body: &Value,
) -> String {
    let addr = mock.url().trim_start_matches("http://").to_owned();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let body = body.to_string();
    let mut head = format!("POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n", body.len());
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    tcp.write_all(format!("{head}\r\n{body}").as_bytes())
        .await
        .unwrap();
    let mut out = Vec::new();
    tcp.read_to_end(&mut out).await.unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn streams_are_framed_as_each_vendor_frames_them() {
    for (protocol, must) in [
        (
            Protocol::Openai,
            vec![
                "content-type: text/event-stream",
                "data: {\"id\":\"chatcmpl-",
                "data: [DONE]",
            ],
        ),
        (
            Protocol::OpenaiResponses,
            vec![
                "content-type: text/event-stream",
                "event: response.created\ndata: {\"type\":\"response.created\"",
                "event: response.completed",
            ],
        ),
        (
            Protocol::Anthropic,
            vec![
                "content-type: text/event-stream",
                "event: message_start\ndata: {\"type\":\"message_start\"",
                "event: message_stop",
            ],
        ),
        (
            Protocol::Gemini,
            vec![
                "content-type: text/event-stream",
                "data: {\"candidates\":",
                "\"finishReason\":\"STOP\"",
            ],
        ),
    ] {
        let mock = MockVendor::start(protocol, "text").await.unwrap();
        let (path, body) = call(protocol, true);
        let raw = raw_http(&mock, &path, &auth(protocol, "k"), &body).await;
        assert!(raw.starts_with("HTTP/1.1 200 OK\r\n"), "{protocol}: {raw}");
        for m in must {
            assert!(raw.contains(m), "{protocol}: missing {m:?} in\n{raw}");
        }
        assert!(
            raw.contains("transfer-encoding: chunked"),
            "{protocol}: streamed bodies are chunked"
        );
    }
}

/// OpenAI sends the usage chunk (and `"usage": null` on the others) only when the request sets
/// `stream_options.include_usage` (API reference, "Create chat completion").
#[tokio::test]
async fn an_openai_stream_carries_usage_only_when_asked() {
    let mock = MockVendor::start(Protocol::Openai, "text").await.unwrap();
    let (path, mut body) = call(Protocol::Openai, true);
    let plain = raw_http(&mock, &path, &auth(Protocol::Openai, "k"), &body).await;
    body["stream_options"] = json!({"include_usage": true});
    let asked = raw_http(&mock, &path, &auth(Protocol::Openai, "k"), &body).await;
    for (raw, usage) in [(&plain, false), (&asked, true)] {
        assert!(raw.contains("data: [DONE]"), "{raw}");
        assert!(raw.contains("\"finish_reason\":\"stop\""), "{raw}");
        assert_eq!(raw.contains("\"usage\""), usage, "{raw}");
        assert_eq!(raw.contains("\"choices\":[]"), usage, "{raw}");
    }
}

/// A mock's JSON answer to `body` at `path`, with a key.
async fn answer_of(mock: &MockVendor, protocol: Protocol, path: &str, body: &Value) -> Value {
    send(mock, path, &auth(protocol, "k"), body)
        .await
        .json()
        .await
        .unwrap()
}

/// Vendors answer as the model asked for; `auto` does too, named scenarios keep the fixture's.
#[tokio::test]
async fn auto_answers_as_the_requested_model() {
    for protocol in Protocol::ALL {
        let field = if protocol == Protocol::Gemini {
            "modelVersion"
        } else {
            "model"
        };
        let (path, body) = call(protocol, false);
        let auto = MockVendor::start(protocol, "auto").await.unwrap();
        let answer = answer_of(&auto, protocol, &path, &body).await;
        assert_eq!(answer[field], "m", "{protocol}: {answer}");
        let (stream_path, stream_body) = call(protocol, true);
        let raw = raw_http(&auto, &stream_path, &auth(protocol, "k"), &stream_body).await;
        assert!(
            raw.contains(&format!("\"{field}\":\"m\"")),
            "{protocol}: {raw}"
        );
        let named = MockVendor::start(protocol, "text").await.unwrap();
        let answer = answer_of(&named, protocol, &path, &body).await;
        assert_ne!(answer[field], "m", "{protocol}: {answer}");
    }
}

/// Each vendor lists its models behind its own key check, in its own shape.
#[tokio::test]
async fn each_vendor_lists_models_behind_its_key_check() {
    for (protocol, path, list, id_at) in [
        (Protocol::Openai, "/v1/models", "data", "/id"),
        (Protocol::OpenaiResponses, "/v1/models", "data", "/id"),
        (Protocol::Anthropic, "/v1/models", "data", "/id"),
        (Protocol::Gemini, "/v1beta/models", "models", "/name"),
    ] {
        let mock = MockVendor::start(protocol, "text").await.unwrap();
        let get = |headers: Vec<(&'static str, String)>| {
            let mut req = reqwest::Client::new().get(format!("{}{path}", mock.url()));
            for (n, v) in headers {
                req = req.header(n, v);
            }
            req.send()
        };
        let refused = get(vec![]).await.unwrap();
        assert_eq!(refused.status(), 401, "{protocol}: no key");
        let listed = get(auth(protocol, "k")).await.unwrap();
        assert_eq!(listed.status(), 200, "{protocol}");
        let body: Value = listed.json().await.unwrap();
        let first = &body[list][0];
        let id = first
            .pointer(id_at)
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert!(id.ends_with("concord-mock-model"), "{protocol}: {body}");
        match protocol {
            Protocol::Anthropic => {
                assert_eq!(first["type"], "model", "{body}");
                assert_eq!(body["has_more"], false, "{body}");
                assert_eq!(body["first_id"], "concord-mock-model", "{body}");
            }
            Protocol::Gemini => assert!(
                first["supportedGenerationMethods"]
                    .as_array()
                    .is_some_and(|m| m.contains(&json!("generateContent"))),
                "{body}"
            ),
            _ => assert_eq!(body["object"], "list", "{body}"),
        }
    }
}

#[tokio::test]
async fn buffered_answers_are_the_fixture_json() {
    for protocol in Protocol::ALL {
        let mock = MockVendor::start(protocol, "tool_call").await.unwrap();
        let (path, body) = call(protocol, false);
        let resp = send(&mock, &path, &auth(protocol, "k"), &body).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "application/json");
        let got: Value = resp.json().await.unwrap();
        let file = concord_harness::Fixtures::default()
            .scenario(protocol, "tool_call")
            .unwrap();
        assert_eq!(
            got,
            serde_json::from_slice::<Value>(&file.generate_body.unwrap()).unwrap()
        );
    }
}

/// Each violation gets the vendor's own status and error shape.
#[tokio::test]
async fn violations_get_the_vendors_errors() {
    struct Case {
        protocol: Protocol,
        name: &'static str,
        path: &'static str,
        headers: Vec<(&'static str, String)>,
        body: Value,
        status: u16,
        error_type: &'static str,
    }
    let oa = |body: Value| {
        (
            Protocol::Openai,
            "/v1/chat/completions",
            auth(Protocol::Openai, "k"),
            body,
        )
    };
    let an = |body: Value| {
        (
            Protocol::Anthropic,
            "/v1/messages",
            auth(Protocol::Anthropic, "k"),
            body,
        )
    };
    let ge = |path: &'static str, body: Value| {
        (Protocol::Gemini, path, auth(Protocol::Gemini, "k"), body)
    };
    let user = json!([{"role": "user", "content": "hi"}]);
    let gem_ok = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let cases = vec![
        ("openai no auth", (Protocol::Openai, "/v1/chat/completions", vec![], json!({"model": "m", "messages": user})), 401, "invalid_request_error"),
        ("openai orphan tool result", oa(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "call_x", "content": "r"}]})), 400, "invalid_request_error"),
        ("openai missing model", oa(json!({"model": "missing-model", "messages": user})), 404, "invalid_request_error"),
        ("anthropic no auth", (Protocol::Anthropic, "/v1/messages", vec![("anthropic-version", "2023-06-01".into())], json!({"model": "m", "max_tokens": 5, "messages": user})), 401, "authentication_error"),
        ("anthropic no version", (Protocol::Anthropic, "/v1/messages", vec![("x-api-key", "k".into())], json!({"model": "m", "max_tokens": 5, "messages": user})), 400, "invalid_request_error"),
        ("anthropic no max_tokens", an(json!({"model": "m", "messages": user})), 400, "invalid_request_error"),
        ("anthropic system role", an(json!({"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}]})), 400, "invalid_request_error"),
        ("anthropic bad tool id", an(json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": [{"type": "tool_use", "id": "call.1", "name": "f", "input": {}}]}]})), 400, "invalid_request_error"),
        ("anthropic missing model", an(json!({"model": "missing-model", "max_tokens": 5, "messages": user})), 404, "not_found_error"),
        ("anthropic thinking with a forced tool", an(json!({"model": "m", "max_tokens": 2048, "messages": user, "thinking": {"type": "enabled", "budget_tokens": 1024}, "tools": [{"name": "f", "input_schema": {"type": "object"}}], "tool_choice": {"type": "any"}})), 400, "invalid_request_error"),
        ("gemini key in url", (Protocol::Gemini, "/v1beta/models/m:generateContent?key=k", vec![], gem_ok.clone()), 400, "INVALID_ARGUMENT"),
        ("gemini no auth", (Protocol::Gemini, "/v1beta/models/m:generateContent", vec![], gem_ok.clone()), 401, "UNAUTHENTICATED"),
        ("gemini bad role", ge("/v1beta/models/m:generateContent", json!({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]})), 400, "INVALID_ARGUMENT"),
        ("gemini missing model", ge("/v1/models/missing-model:generateContent", gem_ok.clone()), 404, "NOT_FOUND"),
        ("gemini JSON Schema as responseSchema", ge("/v1beta/models/m:generateContent", json!({"contents": gem_ok["contents"], "generationConfig": {"responseMimeType": "application/json", "responseSchema": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false}}})), 400, "INVALID_ARGUMENT"),
        ("gemini nested $schema in parameters", ge("/v1beta/models/m:generateContent", json!({"contents": gem_ok["contents"], "tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "object", "properties": {"xs": {"type": "array", "items": {"type": "object", "const": 1}}}}}]}]})), 400, "INVALID_ARGUMENT"),
        ("gemini nullable type list", ge("/v1beta/models/m:generateContent", json!({"contents": gem_ok["contents"], "generationConfig": {"responseMimeType": "application/json", "responseSchema": {"type": ["string", "null"]}}})), 400, "INVALID_ARGUMENT"),
        ("gemini both schema fields", ge("/v1beta/models/m:generateContent", json!({"contents": gem_ok["contents"], "generationConfig": {"responseMimeType": "application/json", "responseSchema": {"type": "string"}, "responseJsonSchema": {"type": "string"}}})), 400, "INVALID_ARGUMENT"),
        ("gemini JSON schema without the JSON mime type", ge("/v1beta/models/m:generateContent", json!({"contents": gem_ok["contents"], "generationConfig": {"responseJsonSchema": {"type": "string"}}})), 400, "INVALID_ARGUMENT"),
    ]
    .into_iter()
    .map(|(name, (protocol, path, headers, body), status, error_type)| Case { protocol, name, path, headers, body, status, error_type })
    .collect::<Vec<_>>();
    for c in cases {
        let mock = MockVendor::start(c.protocol, "text").await.unwrap();
        let resp = send(&mock, c.path, &c.headers, &c.body).await;
        assert_eq!(resp.status().as_u16(), c.status, "{}", c.name);
        let body: Value = resp.json().await.unwrap();
        let error_type = body["error"]["type"]
            .as_str()
            .or(body["error"]["status"].as_str())
            .unwrap_or_default();
        assert_eq!(error_type, c.error_type, "{}: {body}", c.name);
        assert_eq!(
            mock.requests().len(),
            1,
            "{}: the rejected request is still logged",
            c.name
        );
    }
}

#[tokio::test]
async fn a_configured_key_is_enforced_and_v1_is_served_for_gemini() {
    let mock = MockVendor::start_with(MockConfig::new(Protocol::Gemini).expect_key("right"))
        .await
        .unwrap();
    let (_, body) = call(Protocol::Gemini, false);
    let wrong = send(
        &mock,
        "/v1/models/m:generateContent",
        &auth(Protocol::Gemini, "wrong"),
        &body,
    )
    .await;
    assert_eq!(wrong.status(), 401);
    let right = send(
        &mock,
        "/v1/models/m:generateContent",
        &auth(Protocol::Gemini, "right"),
        &body,
    )
    .await;
    assert_eq!(right.status(), 200);
}

#[tokio::test]
async fn the_request_log_records_what_reached_the_wire() {
    let mock = MockVendor::start(Protocol::Anthropic, "text")
        .await
        .unwrap();
    let (path, body) = call(Protocol::Anthropic, false);
    let mut headers = auth(Protocol::Anthropic, "sk-ant-abc");
    headers.push(("x-extra", "1".into()));
    send(&mock, &format!("{path}?beta=true"), &headers, &body).await;
    let log = mock.requests();
    assert_eq!(log.len(), 1);
    let r = &log[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str(), r.query.as_deref()),
        ("POST", "/v1/messages", Some("beta=true"))
    );
    assert_eq!(r.credential(), Some("sk-ant-abc"));
    assert_eq!(r.header("x-extra"), Some("1"));
    assert_eq!(r.body, body);
    assert_eq!(r.model().as_deref(), Some("m"));
    assert_eq!(mock.observations().connections(), 1);
}

#[tokio::test]
async fn echo_answers_each_caller_with_its_own_values() {
    let mock = MockVendor::start(Protocol::Gemini, "echo").await.unwrap();
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "say \"hi\""}]}]});
    let resp: Value = send(
        &mock,
        "/v1beta/models/gem-7:generateContent",
        &auth(Protocol::Gemini, "k"),
        &body,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        resp["candidates"][0]["content"]["parts"][0]["text"],
        "model=gem-7 prompt=say \"hi\""
    );
}

#[tokio::test]
async fn slow_streams_keep_their_timing() {
    let mock = MockVendor::start(Protocol::Openai, "slow_stream")
        .await
        .unwrap();
    let (path, body) = call(Protocol::Openai, true);
    let resp = send(&mock, &path, &auth(Protocol::Openai, "k"), &body).await;
    let started = Instant::now();
    let mut chunks = resp.bytes_stream();
    let mut n = 0;
    while n < 5 {
        chunks.next().await.unwrap().unwrap();
        n += 1;
    }
    // Four gaps of 25 ms at least between the first and fifth chunk.
    assert!(
        started.elapsed() >= Duration::from_millis(95),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_reset_cuts_the_connection_mid_body() {
    let mock = MockVendor::start(Protocol::Anthropic, "reset")
        .await
        .unwrap();
    let (path, body) = call(Protocol::Anthropic, true);
    let resp = send(&mock, &path, &auth(Protocol::Anthropic, "k"), &body).await;
    assert_eq!(resp.status(), 200);
    let mut got = Vec::new();
    let mut failed = false;
    let mut chunks = resp.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        match chunk {
            Ok(c) => got.extend_from_slice(&c),
            Err(_) => failed = true,
        }
    }
    assert!(failed, "the body must end in an error, not a clean end");
    let text = String::from_utf8(got).unwrap();
    assert!(
        text.contains("message_start") && !text.contains("message_stop"),
        "{text}"
    );
}

#[tokio::test]
async fn a_stall_sends_headers_then_nothing_and_a_dropped_stream_is_counted() {
    let mock = MockVendor::start(Protocol::Gemini, "stall").await.unwrap();
    let (path, body) = call(Protocol::Gemini, true);
    let resp = send(&mock, &path, &auth(Protocol::Gemini, "k"), &body).await;
    assert_eq!(resp.status(), 200);
    let mut chunks = resp.bytes_stream();
    let mut seen = 0;
    loop {
        match tokio::time::timeout(Duration::from_millis(300), chunks.next()).await {
            Ok(Some(Ok(_))) => seen += 1,
            Ok(other) => panic!("a stalled stream must not end: {other:?}"),
            Err(_) => break,
        }
    }
    assert!(seen >= 1, "some frames arrive before the stall");
    drop(chunks);
    let deadline = Instant::now() + Duration::from_secs(2);
    while mock.observations().disconnects() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(mock.observations().disconnects(), 1);
}

#[tokio::test]
async fn error_scenarios_serve_the_error_table_with_headers() {
    let mock = MockVendor::start(Protocol::Openai, "error_rate_limited_http_date")
        .await
        .unwrap();
    let (path, body) = call(Protocol::Openai, false);
    let resp = send(&mock, &path, &auth(Protocol::Openai, "k"), &body).await;
    assert_eq!(resp.status(), 429);
    let date = resp.headers()["retry-after"].to_str().unwrap().to_owned();
    let when = httpdate::parse_http_date(&date).unwrap();
    let ahead = when.duration_since(std::time::SystemTime::now()).unwrap();
    assert!(
        ahead > Duration::from_secs(25) && ahead <= Duration::from_secs(31),
        "{date}"
    );
}

#[tokio::test]
async fn unknown_scenarios_fail_at_start_with_the_list_command() {
    let err = MockVendor::start(Protocol::Openai, "nope")
        .await
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("concord mock --protocol openai --list"),
        "{err}"
    );
}

#[test]
fn every_protocol_has_the_scenarios_the_checks_need() {
    let fixtures = concord_harness::Fixtures::default();
    let needed = [
        "text",
        "tool_call",
        "parallel_tool_calls",
        "tool_no_args",
        "tool_result",
        "reasoning",
        "json_schema",
        "image_input",
        "cached_usage",
        "utf8",
        "unknown_fields",
        "crlf_comments",
        "bad_arguments",
        "bad_tool_ids",
        "truncated",
        "malformed_frame",
        "stream_error",
        "reset",
        "stall",
        "slow_stream",
        "echo",
        "synth_tool_call",
        "synth_json",
        "error_server_error",
        "error_not_found",
        "error_rate_limited_seconds",
        "error_unauthorized",
    ];
    for protocol in Protocol::ALL {
        let names = fixtures.list(protocol).unwrap();
        for n in needed {
            assert!(names.iter().any(|x| x == n), "{protocol} lacks {n}");
        }
        if protocol == Protocol::Openai {
            assert!(
                names.iter().any(|x| x == "error_quota"),
                "openai lacks insufficient_quota"
            );
        }
    }
}

#[tokio::test]
async fn the_request_log_keeps_the_most_recent_and_counts_them_all() {
    let protocol = Protocol::Openai;
    let (path, mut body) = call(protocol, false);
    let mock = MockVendor::start_with(MockConfig::new(protocol).request_log(3))
        .await
        .unwrap();
    for i in 0..5 {
        body["messages"][0]["content"] = json!(format!("request {i}"));
        let resp = send(&mock, &path, &auth(protocol, "sk-test-1234"), &body).await;
        assert_eq!(resp.status(), 200);
    }
    let kept: Vec<String> = mock
        .requests()
        .iter()
        .map(|r| {
            r.body["messages"][0]["content"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(kept, ["request 2", "request 3", "request 4"]);
    assert_eq!(mock.observations().received(), 5);

    let none = MockVendor::start_with(MockConfig::new(protocol).request_log(0))
        .await
        .unwrap();
    let resp = send(&none, &path, &auth(protocol, "sk-test-1234"), &body).await;
    assert_eq!(resp.status(), 200);
    assert!(none.requests().is_empty());
    assert_eq!(none.observations().received(), 1);
}

/// The relay sends a marked request to the mock its marker names, unmarked, and streams the
/// answer back; an unmarked one is refused with a reason.
#[tokio::test]
async fn the_relay_reaches_the_marked_mock_with_the_marker_taken_out() {
    use concord_harness::relay::{mark, Relay};
    let mock = MockVendor::start(Protocol::Openai, "text").await.unwrap();
    let port: u16 = mock.url().rsplit(':').next().unwrap().parse().unwrap();
    let relay = Relay::start(0).await.unwrap();
    let (path, mut body) = call(Protocol::Openai, true);
    body["messages"][0]["content"] = json!(mark("hi", port));
    let response = reqwest::Client::new()
        .post(format!("{}{path}", relay.url()))
        .bearer_auth("k")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let text = response.text().await.unwrap();
    assert!(text.contains("data: [DONE]"), "{text}");
    let seen = mock.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body["messages"][0]["content"], "hi");
    assert_eq!(
        seen[0].credential.as_deref(),
        Some("k"),
        "the key passes through"
    );
    let (_, unmarked) = call(Protocol::Openai, false);
    let refused = reqwest::Client::new()
        .post(format!("{}{path}", relay.url()))
        .json(&unmarked)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 502);
    assert!(refused.text().await.unwrap().contains("marker"));
}
