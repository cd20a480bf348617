//! The suite judges servers too: each deliberately broken server (concord's with one mistake,
//! `broken_server`) must make exactly its checks fail, through both doors, and every SRV
//! check must be failed by one of them.

use std::collections::BTreeSet;

use concord::Api;
use concord_conformance::broken_server::ServerFlaw;
use concord_conformance::served::Door;
use concord_conformance::{Subject, Suite};

use crate::self_test::{assert_each_fails_exactly, assert_every_check_is_failed};

/// An OpenAI client to Anthropic, and an Anthropic client to OpenAI: both doors, each in front
/// of the other's vendor.
const CROSSED: [(&str, Api, Door); 2] = [
    ("anthropic", Api::Messages, Door::Openai),
    ("openai", Api::Chat, Door::Anthropic),
];

fn name(provider: &str, door: Door, flaw: ServerFlaw) -> String {
    format!("{provider}@serve-{}/{flaw:?}", door.name())
}

/// The checks each broken server must fail (through either door).
pub(crate) fn server_failures(flaw: ServerFlaw) -> BTreeSet<&'static str> {
    let ids: &[&str] = match flaw {
        // Every check that looks for the temperature on the wire.
        // (SRV-008: a call's own temperature lost, the user's applies instead.)
        ServerFlaw::DropsTemperature => &["CTR-005", "CTX-001", "SL-002", "SL-003", "SRV-008"],
        // Every check of a stream cut or spoiled upstream.
        ServerFlaw::CleanEndOnCut => &[
            "ERR-003", "ERR-004", "ERR-005", "ERR-006", "DSP-008", "CAT-006",
        ],
        ServerFlaw::LosesRetryAfter => &["ERR-002", "DSP-006", "SRV-001", "SRV-007"],
        ServerFlaw::LogsKeys => &["SRV-005"],
        ServerFlaw::MissingKeyIs500 => &["SRV-006"],
        ServerFlaw::BudgetIgnored => &["SRV-002"],
        ServerFlaw::FailuresUnrecorded => &["SRV-003"],
        ServerFlaw::ReadyWithoutLooking => &["SRV-004"],
        ServerFlaw::TenantLimitsIgnored => &["SRV-007"],
        ServerFlaw::RuntimeIgnored => &["SRV-008"],
    };
    ids.iter().copied().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_server_fails_exactly_its_checks() {
    let subjects = ServerFlaw::ALL.into_iter().flat_map(|flaw| {
        CROSSED
            .into_iter()
            .map(move |(provider, api, door)| Subject {
                name: name(provider, door, flaw),
                ..Subject::builtin(provider, Some(api))
                    .unwrap()
                    .through_server(door, flaw.factory())
            })
    });
    let report = Suite::new().subjects(subjects).parallel(8).run().await;
    let want = ServerFlaw::ALL
        .into_iter()
        .flat_map(|flaw| {
            CROSSED
                .into_iter()
                .map(move |(provider, _, door)| (name(provider, door, flaw), server_failures(flaw)))
        })
        .collect();
    let covered = assert_each_fails_exactly(&report, want);
    assert_every_check_is_failed(&covered, |c| c.family == "SRV", "broken server");
}
