//! Gateway mode: concord's own server judged as any gateway is — configured once with the
//! suite's relay as its upstream, reached only from outside. Every check whose verdict needs
//! only the client's side and the mock's log must pass; the ones that administer a server skip
//! with the reason.

use std::collections::BTreeSet;

use concord::Api;
use concord_conformance::broken_gateway::GatewayFlaw;
use concord_conformance::gateway::{concord_as_gateway_factory, NOT_ADMINISTERED};
use concord_conformance::served::Door;
use concord_conformance::{Outcome, Subject, Suite};

use crate::self_test::assert_each_fails_exactly;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concord_as_an_outside_gateway_passes_every_applicable_check() {
    let subjects = [
        ("openai", Api::Chat, Door::Openai, "/v1"),
        ("anthropic", Api::Messages, Door::Anthropic, ""),
    ]
    .map(|(provider, api, door, base)| {
        Subject::builtin(provider, Some(api))
            .unwrap()
            .through_gateway(door, concord_as_gateway_factory(base))
    });
    let report = Suite::new().subjects(subjects).parallel(4).run().await;
    let mut failures = Vec::new();
    let mut admin_skips = 0;
    for r in &report.results {
        match &r.outcome {
            Outcome::Fail(why) => failures.push(format!("{} [{}]: {why}", r.check, r.provider)),
            Outcome::Skip(why) if why == NOT_ADMINISTERED => admin_skips += 1,
            _ => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // SRV-002, -003, -004, -005, -007 and -008 need the server's administration; per subject.
    assert_eq!(admin_skips, 12, "{report:?}");
}

/// The checks each pass-through gateway must fail: none for the correct one.
fn gateway_failures(flaw: GatewayFlaw) -> BTreeSet<&'static str> {
    let ids: &[&str] = match flaw {
        GatewayFlaw::None => &[],
        // Every check of a vendor's 429 at the caller.
        GatewayFlaw::Swallows429 => &["ERR-001", "ERR-002", "SRV-001"],
        GatewayFlaw::DropsRetryAfter => &["ERR-002", "SRV-001"],
        // Every check of a stream cut or stalled upstream.
        GatewayFlaw::CleanEndOnCut => &["ERR-005", "ERR-006"],
        GatewayFlaw::ForwardsCallersKey => &["SRV-006"],
    };
    ids.iter().copied().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_gateway_fails_exactly_its_checks() {
    let name = |flaw: GatewayFlaw| format!("openai@gateway-openai/{flaw:?}");
    let subjects = GatewayFlaw::ALL.map(|flaw| Subject {
        name: name(flaw),
        ..Subject::builtin("openai", Some(Api::Chat))
            .unwrap()
            .through_gateway(Door::Openai, flaw.factory())
    });
    let report = Suite::new().subjects(subjects).parallel(8).run().await;
    let want = GatewayFlaw::ALL
        .into_iter()
        .map(|flaw| (name(flaw), gateway_failures(flaw)))
        .collect();
    assert_each_fails_exactly(&report, want);
}
