//! Live mode finds a vendor the way its descriptor row does: for Azure, an Entra ID token from
//! client credentials as well as a key. Here the "real" vendor and its token endpoint are on
//! loopback. One test in this binary: it sets process environment variables.

use concord_conformance::{Mode, Outcome, Selection, Subject, Suite};
use concord_harness::{MockConfig, MockVendor, Protocol};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const AZURE_VARS: &[&str] = &[
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_AD_TOKEN",
    "AZURE_OPENAI_API_VERSION",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_AUTHORITY_HOST",
    "CONCORD_LIVE_AZURE_MODEL",
];

fn live_run(subject: Subject) -> Suite {
    Suite::new()
        .subject(subject)
        .mode(Mode::Live)
        .select(Selection {
            checks: vec!["CTR-001".into(), "CTR-002".into()],
            ..Selection::default()
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_azure_skips_naming_its_variables_then_runs_on_an_entra_token() {
    for var in AZURE_VARS {
        std::env::remove_var(var);
    }
    let report = live_run(Subject::builtin("azure", None).unwrap())
        .run()
        .await;
    assert_eq!(report.results.len(), 2);
    for r in &report.results {
        match &r.outcome {
            Outcome::Skip(why) => assert!(why.contains("AZURE_OPENAI_ENDPOINT"), "{why}"),
            other => panic!(
                "{}: expected a skip naming the variables, got {other:?}",
                r.check
            ),
        }
    }
    // Reachable but with no deployment named: a made-up one would only fail at the vendor.
    std::env::set_var("AZURE_OPENAI_ENDPOINT", "http://127.0.0.1:9");
    std::env::set_var("AZURE_OPENAI_API_KEY", "key-not-used-0000");
    let report = live_run(Subject::builtin("azure", None).unwrap())
        .run()
        .await;
    for r in &report.results {
        match &r.outcome {
            Outcome::Skip(why) => assert!(why.contains("CONCORD_LIVE_AZURE_MODEL"), "{why}"),
            other => panic!(
                "{}: expected a skip naming the model variable, got {other:?}",
                r.check
            ),
        }
    }
    std::env::remove_var("AZURE_OPENAI_API_KEY");

    let tokens = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/tenant-1/oauth2/v2.0/token"))
        .and(body_string_contains("client_id=client-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "token_type": "Bearer", "expires_in": 3599, "access_token": "entra-token-for-live-run"
        })))
        .expect(1)
        .mount(&tokens)
        .await;
    let vendor = MockVendor::start_with(
        MockConfig::new(Protocol::Openai)
            .expect_key("entra-token-for-live-run")
            .key_header("authorization"),
    )
    .await
    .unwrap();
    for (var, value) in [
        ("AZURE_OPENAI_ENDPOINT", vendor.url()),
        ("AZURE_TENANT_ID", "tenant-1".into()),
        ("AZURE_CLIENT_ID", "client-1".into()),
        ("AZURE_CLIENT_SECRET", "secret-1".into()),
        ("AZURE_AUTHORITY_HOST", tokens.uri()),
        ("CONCORD_LIVE_AZURE_MODEL", "gpt-4o-deployment".into()),
    ] {
        std::env::set_var(var, value);
    }
    // A fresh subject: the first one's Live remembers that nothing was configured.
    let report = live_run(Subject::builtin("azure", None).unwrap())
        .run()
        .await;
    report.assert_passed();
    let (pass, _, _) = report.counts();
    assert_eq!(pass, 2, "{}", report.failures_text());
    let sent = vendor.requests();
    assert!(!sent.is_empty());
    for r in &sent {
        assert_eq!(r.path, "/openai/v1/chat/completions");
        assert_eq!(r.body["model"], "gpt-4o-deployment");
    }
    // Dropping `tokens` verifies `expect(1)`: one token for the whole run.
}
