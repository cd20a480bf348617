//! Live mode against the mock vendors' `auto` scenario, treated as remote servers: the
//! caller-side live checks must pass against a server that answers like the vendor, for every
//! wire format. Variables are given to `Live` directly, so nothing here reads the environment.

use concord::Api;
use concord_conformance::broken::{Broken, Flaw};
use concord_conformance::{Live, Mode, Outcome, Selection, Subject, Suite};
use concord_harness::mock::AUTO;
use concord_harness::{MockConfig, MockVendor, Protocol};

const KEY: &str = "sk-live-mock-0123456789";

/// One provider per wire format, with the header its mock takes the key in.
const WIRE_FORMATS: [(&str, Api, Protocol, &str); 4] = [
    (
        "openai-compatible",
        Api::Chat,
        Protocol::Openai,
        "authorization",
    ),
    (
        "openai",
        Api::Responses,
        Protocol::OpenaiResponses,
        "authorization",
    ),
    ("anthropic", Api::Messages, Protocol::Anthropic, "x-api-key"),
    (
        "gemini",
        Api::GenerateContent,
        Protocol::Gemini,
        "x-goog-api-key",
    ),
];

/// `name` speaking `api`, reaching `mock` live.
fn subject(name: &str, api: Api, mock: &MockVendor) -> Subject {
    let d = *concord::descriptor::get(name).unwrap();
    let base = format!("{}{}", mock.url(), d.endpoint.base_path());
    let live = Live::from_descriptor_with(
        d,
        vec![
            (d.base_url.name.into(), base),
            (d.key.name.into(), KEY.into()),
            (d.live_model.name.into(), "live-model".into()),
        ],
    );
    Subject::from_descriptor(&d, api).unwrap().with_live(live)
}

async fn keyed_mock(protocol: Protocol, key_header: &str) -> MockVendor {
    MockVendor::start_with(
        MockConfig::new(protocol)
            .scenario(AUTO)
            .expect_key(KEY)
            .key_header(key_header),
    )
    .await
    .unwrap()
}

fn live_checks() -> Selection {
    Selection {
        tags: vec!["live".into()],
        ..Selection::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_live_check_passes_against_servers_that_answer_like_the_vendors() {
    let live_count = concord_conformance::checks::CHECKS
        .iter()
        .filter(|c| c.is_live())
        .count();
    assert!(live_count >= 15, "only {live_count} live checks");
    for (name, api, protocol, header) in WIRE_FORMATS {
        let mock = keyed_mock(protocol, header).await;
        let report = Suite::new()
            .subject(subject(name, api, &mock))
            .mode(Mode::Live)
            .select(live_checks())
            .run()
            .await;
        let (pass, fail, skip) = report.counts();
        assert_eq!(
            (pass, fail, skip),
            (live_count, 0, 0),
            "{name}: {}",
            report.failures_text()
        );
        assert!(!mock.requests().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_leaves_out_what_it_cannot_pay_for() {
    let mock = keyed_mock(Protocol::Openai, "authorization").await;
    let suite = Suite::new()
        .subject(subject("openai-compatible", Api::Chat, &mock))
        .mode(Mode::Live)
        .select(live_checks())
        .budget(100);
    let (spent, over) = suite.estimate();
    assert!(spent <= 100 && over.iter().any(|o| *o), "{spent} {over:?}");
    let report = suite.run().await;
    let skipped: Vec<&str> = report
        .results
        .iter()
        .filter(|r| matches!(&r.outcome, Outcome::Skip(why) if why.contains("token budget")))
        .map(|r| r.check)
        .collect();
    assert!(skipped.contains(&"TOOL-001"), "{skipped:?}");
    // What costs nothing still runs: refusals, and checks that send nothing.
    assert!(!skipped.contains(&"ERR-008") && !skipped.contains(&"SL-001"));
    assert_eq!(report.counts().1, 0, "{}", report.failures_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_checks_no_keys_is_a_reasoned_skip_not_a_pass() {
    let mock = MockVendor::start_with(MockConfig::new(Protocol::Openai).scenario(AUTO))
        .await
        .unwrap();
    let report = Suite::new()
        .subject(subject("openai-compatible", Api::Chat, &mock))
        .mode(Mode::Live)
        .select(Selection {
            checks: vec!["ERR-008".into()],
            ..Selection::default()
        })
        .run()
        .await;
    match &report.results[0].outcome {
        Outcome::Skip(why) => assert!(why.contains("made-up key"), "{why}"),
        other => panic!("expected a skip, got {other:?}"),
    }
}

/// ERR-011 judges the server, not the provider: a server that answers a request without a key
/// with a 500 (as LiteLLM's proxy without its database does) fails it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_answers_no_key_with_a_500_fails_err_011() {
    use axum::http::{HeaderMap, StatusCode};
    let app = axum::Router::new().fallback(|headers: HeaderMap| async move {
        if headers.contains_key("authorization") {
            (StatusCode::BAD_REQUEST, "{}".to_owned())
        } else {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                r#"{"error":{"message":"Internal Server Error","type":"server_error"}}"#.to_owned(),
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let d = *concord::descriptor::get("openai-compatible").unwrap();
    let live = Live::from_descriptor_with(
        d,
        vec![
            (d.base_url.name.into(), format!("{url}/v1")),
            (d.key.name.into(), KEY.into()),
            (d.live_model.name.into(), "live-model".into()),
        ],
    );
    let report = Suite::new()
        .subject(
            Subject::from_descriptor(&d, Api::Chat)
                .unwrap()
                .with_live(live),
        )
        .mode(Mode::Live)
        .select(Selection {
            checks: vec!["ERR-011".into()],
            ..Selection::default()
        })
        .run()
        .await;
    match &report.results[0].outcome {
        Outcome::Fail(why) => assert!(why.contains("HTTP 500"), "{why}"),
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// The live checks each flaw must fail. Fewer than in mock mode: a live check sees only what
/// the caller gets back, so flaws visible only on the wire or under injected faults pass here.
fn live_failures(flaw: Flaw, gemini: bool) -> &'static [&'static str] {
    match flaw {
        Flaw::DefaultModel => &["SL-001"],
        Flaw::DropsResponseId => &["CTR-001"],
        Flaw::DropsStreamUsage => &["CTR-002", "CTR-003", "RSN-001", "USE-001"],
        Flaw::DropsSystemPrompt => &["CTR-004"],
        Flaw::DropsToolResults => &["TOOL-004"],
        Flaw::IgnoresResponseFormat => &["JSON-001"],
        Flaw::IgnoresToolChoice => &["TOOL-005"],
        Flaw::KeyInErrors => &["ERR-007"],
        Flaw::ErrorsByStatusOnly => &["ERR-008", "ERR-009", "ERR-010"],
        // Gemini gives no ids and reports calls with `STOP`.
        Flaw::RawToolCallIds | Flaw::StopWithToolCallsIsStop if gemini => {
            &["TOOL-001", "TOOL-002", "TOOL-003", "TOOL-004"]
        }
        _ => &[],
    }
}

/// The live checks can fail: each broken provider, run live against `auto` mocks of every wire
/// format, fails exactly the live checks listed for its flaw, and every live check but SEC-*
/// (concord's own Debug output and fixture files, which no provider controls) is failed by one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_providers_fail_their_live_checks() {
    let mut mocks = Vec::new();
    let mut subjects = Vec::new();
    for (name, api, protocol, header) in WIRE_FORMATS {
        let mock = keyed_mock(protocol, header).await;
        for flaw in Flaw::ALL {
            let inner = concord::descriptor::get(name)
                .unwrap()
                .provider(Some(api))
                .unwrap();
            subjects.push(Subject {
                name: format!("{name}-{}/{flaw:?}", api.name()),
                provider: std::sync::Arc::new(Broken::new(inner, flaw)),
                ..subject(name, api, &mock)
            });
        }
        mocks.push(mock);
    }
    let report = Suite::new()
        .subjects(subjects)
        .mode(Mode::Live)
        .select(live_checks())
        .parallel(16)
        .run()
        .await;
    let mut want = Vec::new();
    for (name, api, protocol, _) in WIRE_FORMATS {
        for flaw in Flaw::ALL {
            let checks = live_failures(flaw, protocol == Protocol::Gemini);
            want.push((
                format!("{name}-{}/{flaw:?}", api.name()),
                checks.iter().copied().collect(),
            ));
        }
    }
    let covered = crate::self_test::assert_each_fails_exactly(&report, want);
    // No provider controls the SEC checks (they read concord's own output and the fixtures),
    // nor ERR-011 (a raw request to the server: a_server_that_answers_no_key_with_a_500_fails_err_011).
    crate::self_test::assert_every_check_is_failed(
        &covered,
        |c| c.is_live() && c.family != "SEC" && c.id != "ERR-011",
        "broken provider in live mode",
    );
}
