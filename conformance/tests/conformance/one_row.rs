//! Adding a provider that speaks an existing wire format is one descriptor row. Here the row
//! lives in the test: a vendor that speaks Chat Completions under its own path prefix and wants
//! its key in a header of its own. Built from the row alone, it passes every check of the suite,
//! and its calls go where the row says with the auth the row says.

use std::sync::Arc;

use concord::descriptor::{Api, Descriptor, Setup};
use concord::env::EnvVar;
use concord::wire::{Auth, Endpoint, WireFormat};
use concord::{Capabilities, Provider, Request};
use concord_conformance::{Outcome, Subject, Suite};
use concord_harness::{MockConfig, MockVendor, Protocol};

fn acme_format(api: Api) -> Option<Arc<dyn WireFormat>> {
    (api == Api::Chat).then(|| Arc::new(concord::openai::ChatCompletions::compatible()) as _)
}

const fn var(name: &'static str, ty: &'static str) -> EnvVar {
    EnvVar {
        name,
        ty,
        default: None,
        description: "Acme (a test row).",
        group: "Acme",
    }
}

/// The whole of the new provider.
static ACME: Descriptor = Descriptor {
    name: "acme",
    title: "Acme",
    about: "Acme's gateway: Chat Completions under /v2, key in x-acme-key",
    apis: &[Api::Chat],
    format: acme_format,
    endpoint: Endpoint::Custom {
        base_path: "/gateway",
        prefix: "/v2",
    },
    auth: Auth::Header("x-acme-key"),
    key: var("ACME_API_KEY", "secret"),
    base_url: var("ACME_BASE_URL", "url"),
    live_model: var("CONCORD_LIVE_ACME_MODEL", "string"),
    capabilities: Capabilities::ALL,
    required_max_tokens: None,
    setup: Setup::Plain,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_row_passes_every_check() {
    let subject = Subject::from_descriptor(&ACME, Api::Chat).expect("the row builds");
    assert_eq!(subject.name, "acme");
    let report = Suite::new().subject(subject).run().await;
    report.assert_passed();
    // Every check passes but REG-002: the configuration file's `type` names rows of the shipped
    // table, which a row defined here is not — a reasoned skip, not a pass.
    let not_passed: Vec<(&str, &Outcome)> = report
        .results
        .iter()
        .filter(|r| r.outcome != Outcome::Pass)
        .map(|r| (r.check, &r.outcome))
        .collect();
    assert!(
        matches!(not_passed.as_slice(), [("REG-002", Outcome::Skip(why))] if why.contains("not a row")),
        "every check ran and passed but REG-002: {not_passed:?}\n{}",
        report.failures_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_row_decides_the_address_and_the_auth() {
    let mock = MockVendor::start_with(MockConfig::new(Protocol::Openai).key_header("x-acme-key"))
        .await
        .unwrap();
    let provider = ACME.provider(None).unwrap();
    let ctx = concord::RuntimeContext::new()
        .model("acme-large")
        .credential("acme-key-0123456789")
        .base_url(format!("{}/gateway", mock.url()))
        .client(reqwest::Client::new());
    let reply = provider.generate(&Request::user("hi"), &ctx).await.unwrap();
    assert!(!reply.text.is_empty());
    let sent = &mock.requests()[0];
    assert_eq!(sent.path, "/gateway/v2/chat/completions");
    assert_eq!(sent.header("x-acme-key"), Some("acme-key-0123456789"));
    assert_eq!(
        sent.header("authorization"),
        None,
        "the key goes only where the row says"
    );
    // Errors name the configured provider.
    let err = provider
        .generate(&Request::user("hi"), &ctx.clone().model("missing-model"))
        .await
        .unwrap_err();
    assert_eq!(err.provider, "acme");
}
