//! Every fixture scenario with an `expect` block, decoded by its adapter: the non-streamed body,
//! the stream (which must assemble to the same response, CTR-003), and the error table served
//! over loopback HTTP (B5, A6).

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use concord::{assemble, EventStream, Provider, Request, Response, RuntimeContext, StreamEvent};
use concord_harness::{Fixtures, Protocol, Scenario};
use futures_util::StreamExt;

use serde_json::Value;

fn adapter(protocol: Protocol) -> concord::HttpProvider {
    crate::common::provider(protocol)
}

fn stream_bytes(a: &concord::HttpProvider, chunks: Vec<Bytes>) -> EventStream {
    a.decode_stream(futures_util::stream::iter(
        chunks.into_iter().map(Ok::<_, Infallible>),
    ))
}

fn scenarios() -> Vec<Scenario> {
    let fixtures = Fixtures::default();
    Protocol::ALL
        .into_iter()
        .flat_map(|p| {
            let names = fixtures.list(p).expect("fixtures list");
            let fixtures = fixtures.clone();
            names
                .into_iter()
                .filter(|n| !n.starts_with("error_"))
                .map(move |n| fixtures.scenario(p, &n).expect("scenario loads"))
        })
        .collect()
}

async fn collect(stream: EventStream) -> (Vec<StreamEvent>, Option<concord::Error>) {
    let mut events = Vec::new();
    let mut stream = stream;
    while let Some(item) = stream.next().await {
        match item {
            Ok(e) => events.push(e),
            Err(e) => {
                assert!(
                    stream.next().await.is_none(),
                    "an error must end the stream"
                );
                return (events, Some(e));
            }
        }
    }
    (events, None)
}

fn text_of(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// B4: one start first, one finish last, nothing after it.
fn assert_shape(label: &str, events: &[StreamEvent]) {
    assert!(
        matches!(events.first(), Some(StreamEvent::Start { .. })),
        "{label}: first event must be start: {events:?}"
    );
    assert!(
        matches!(events.last(), Some(StreamEvent::Finish { .. })),
        "{label}: last event must be finish: {events:?}"
    );
    let starts = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::Start { .. }))
        .count();
    let finishes = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::Finish { .. }))
        .count();
    assert_eq!(
        (starts, finishes),
        (1, 1),
        "{label}: exactly one start and one finish"
    );
}

fn check_error(label: &str, err: &concord::Error, expect: &Value) {
    assert_eq!(
        err.kind.as_str(),
        expect["kind"].as_str().unwrap(),
        "{label}: kind ({err})"
    );
    if let Some(r) = expect.get("retryable").and_then(Value::as_bool) {
        assert_eq!(err.retryable, r, "{label}: retryable ({err})");
    }
}

#[tokio::test]
async fn every_scenario_decodes_to_its_expected_result() {
    let mut checked = 0;
    for sc in scenarios() {
        let Some(expect) = sc.file.expect.clone() else {
            continue;
        };
        let a = adapter(sc.protocol);
        let label = format!("{}/{}", sc.protocol, sc.name);
        let expected: Option<Response> = expect.get("error").is_none().then(|| {
            serde_json::from_value(expect.clone())
                .unwrap_or_else(|e| panic!("{label}: bad expect: {e}"))
        });
        if let Some(body) = &sc.generate_body {
            match (a.decode_response(body), &expected) {
                (Ok(got), Some(want)) => assert_eq!(&got, want, "{label}: generate"),
                (Err(err), None) => check_error(&label, &err, &expect["error"]),
                (got, _) => panic!("{label}: generate gave {got:?}, expected {expect}"),
            }
            checked += 1;
        }
        if let (Some(spec), Some(bytes)) = (&sc.file.stream, &sc.stream_bytes) {
            // Resets and stalls need a connection: the harness and conformance tests serve them.
            if spec.end != concord_harness::StreamEnd::Close || spec.cut_at.is_some() {
                continue;
            }
            let (events, err) = collect(stream_bytes(&a, vec![Bytes::from(bytes.clone())])).await;
            match (&expected, err) {
                (Some(want), None) => {
                    assert_shape(&label, &events);
                    let got = assemble(
                        a.name(),
                        Box::pin(futures_util::stream::iter(events.into_iter().map(Ok))),
                    )
                    .await
                    .unwrap();
                    assert_eq!(&got, want, "{label}: stream");
                }
                (None, Some(err)) => {
                    check_error(&label, &err, &expect["error"]);
                    if let Some(t) = expect["error"].get("after_text").and_then(Value::as_str) {
                        assert_eq!(text_of(&events), t, "{label}: text before the error");
                    }
                    assert!(
                        !events
                            .iter()
                            .any(|e| matches!(e, StreamEvent::Finish { .. })),
                        "{label}: no finish before an error"
                    );
                }
                (_, err) => panic!("{label}: stream gave {events:?} / {err:?}, expected {expect}"),
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} scenario checks ran");
}

#[tokio::test]
async fn every_error_case_maps_to_its_kind_over_http() {
    let fixtures = Fixtures::default();
    let client = reqwest::Client::new();
    let mut checked = 0;
    for protocol in Protocol::ALL {
        let server = wiremock::MockServer::start().await;
        for case in fixtures.error_cases(protocol).unwrap() {
            server.reset().await;
            let spec = case.response();
            let now = std::time::SystemTime::now();
            let mut template = wiremock::ResponseTemplate::new(spec.status).set_body_bytes(
                concord_harness::scenario::body_bytes(&spec, fixtures.root()).unwrap(),
            );
            for (name, value) in &spec.headers {
                template = template.insert_header(
                    name.as_str(),
                    concord_harness::scenario::header_value(value, now).as_str(),
                );
            }
            wiremock::Mock::given(wiremock::matchers::any())
                .respond_with(template)
                .mount(&server)
                .await;
            let key = "sk-test-SECRET-key-0123456789";
            let ctx = RuntimeContext::new()
                .model("m")
                .credential(key)
                .base_url(match protocol {
                    Protocol::Openai => format!("{}/v1", server.uri()),
                    _ => server.uri(),
                })
                .settings(concord::Parameters {
                    max_output_tokens: Some(64),
                    ..Default::default()
                })
                .timeout(Duration::from_secs(5))
                .client(client.clone());
            let a = adapter(protocol);
            let label = format!("{protocol}/error_{}", case.name);
            let err = a
                .generate(&Request::user("hi"), &ctx)
                .await
                .expect_err(&label);
            check_error(&label, &err, &case.expect);
            assert_eq!(err.status, Some(case.status), "{label}: status");
            assert_eq!(err.provider, a.name(), "{label}: provider");
            match case.expect.get("retry_after_ms") {
                Some(ms) => assert_eq!(
                    err.retry_after,
                    Some(Duration::from_millis(ms.as_u64().unwrap())),
                    "{label}: retry_after"
                ),
                None => match case
                    .expect
                    .get("retry_after_ms_between")
                    .and_then(Value::as_array)
                {
                    Some(range) => {
                        let got = err.retry_after.expect("retry_after").as_millis() as u64;
                        let (lo, hi) = (range[0].as_u64().unwrap(), range[1].as_u64().unwrap());
                        assert!(
                            (lo..=hi).contains(&got),
                            "{label}: retry_after {got} ms not in {lo}..={hi}"
                        );
                    }
                    None => assert_eq!(err.retry_after, None, "{label}: retry_after"),
                },
            }
            if let Some(id) = case.expect.get("request_id").and_then(Value::as_str) {
                assert_eq!(err.request_id.as_deref(), Some(id), "{label}: request_id");
            }
            for text in [err.to_string(), format!("{err:?}")] {
                assert!(!text.contains(key), "{label}: credential leaked: {text}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} error cases ran");
}
