//! The suite tests itself: each deliberately broken provider must make exactly its checks fail,
//! and the working providers none.

use std::collections::BTreeSet;

use concord::Api;
use concord_conformance::broken::{Broken, Flaw};
use concord_conformance::broken_models::ModelsFlaw;
use concord_conformance::broken_registry::{RegistryFlaw, RuntimesFlaw};
use concord_conformance::{Outcome, Subject, Suite};

/// The reference subjects, one per wire format, and the cloud rows that put a wire format
/// behind another endpoint and auth: the flaws that concern them (`kinds_for`) must be caught
/// through those too.
const KINDS: [(&str, Api); 7] = [
    ("openai", Api::Chat),
    ("openai", Api::Responses),
    ("anthropic", Api::Messages),
    ("gemini", Api::GenerateContent),
    ("azure", Api::Chat),
    ("azure", Api::Responses),
    ("vertex", Api::GenerateContent),
];

fn subject((name, api): (&str, Api), flaw: Flaw) -> Subject {
    let base = Subject::builtin(name, Some(api)).unwrap();
    let inner = concord::descriptor::get(name)
        .unwrap()
        .provider(Some(api))
        .unwrap();
    Subject {
        provider: std::sync::Arc::new(Broken::new(inner, flaw)),
        ..base
    }
}

/// Which wire format: the OpenAI APIs behave alike for every flaw but one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    OpenAi,
    Responses,
    Anthropic,
    Gemini,
}

/// The subjects a flaw is tried on: every wire format, and the cloud rows too for the flaws
/// that concern what the cloud rows change (credentials, auth, connections, addressing). The
/// rest are the wire format's business, the same behind any endpoint, and the self-test's time
/// is better spent elsewhere (CI stays well under 15 minutes).
fn kinds_for(flaw: Flaw) -> &'static [(&'static str, Api)] {
    match flaw {
        Flaw::KeepsFirstCredential
        | Flaw::KeyInErrors
        | Flaw::FreshConnectionPerCall
        | Flaw::DefaultModel
        | Flaw::StopWithToolCallsIsStop
        | Flaw::DropsToolCallSignatures => &KINDS,
        _ => &KINDS[..4],
    }
}

fn kind_of((name, api): (&str, Api)) -> Kind {
    match (name, api) {
        (_, Api::Responses) => Kind::Responses,
        ("anthropic", _) => Kind::Anthropic,
        (_, Api::GenerateContent) => Kind::Gemini,
        _ => Kind::OpenAi,
    }
}

/// The checks each flaw must fail, per provider.
fn expected(flaw: Flaw, kind: Kind) -> BTreeSet<&'static str> {
    let ids: &[&str] = match (flaw, kind) {
        (Flaw::KeepsFirstCredential, _) => &["SL-002", "SL-003"],
        // CAT-006 too: with no usage a stream has no cost, where the same exchange generated has one.
        (Flaw::DropsStreamUsage, _) => &["CTR-002", "CTR-003", "RSN-001", "USE-001", "CAT-006"],
        (Flaw::StopWithToolCallsIsStop, Kind::Gemini) => &["TOOL-001", "TOOL-002", "TOOL-003"],
        (Flaw::StopWithToolCallsIsStop, _) => &[],
        (Flaw::KeyInErrors, _) => &["ERR-007"],
        // CAT-006 too: a cut stream taken for a finished one is recorded as `ok`.
        (Flaw::TruncatedIsFinished, _) => &["ERR-005", "CAT-006"],
        (Flaw::RetriesEverything, _) => &["ERR-001", "ERR-002"],
        (Flaw::FreshConnectionPerCall, _) => &["SL-004"],
        (Flaw::DefaultModel, _) => &["SL-001"],
        (Flaw::DropsSystemPrompt, _) => &["CTR-004"],
        // The isolation checks give each runtime its own temperature.
        (Flaw::DropsParameters, _) => &["CTR-005", "SL-002", "SL-003"],
        (Flaw::DropsRepeatedUserTurns, _) => &["CTR-006"],
        (Flaw::DropsToolResults, _) => &["TOOL-004", "TOOL-007"],
        // Neither OpenAI API has an error flag for tool results: nothing to drop.
        (Flaw::DropsToolErrorFlag, Kind::OpenAi | Kind::Responses) => &[],
        (Flaw::DropsToolErrorFlag, _) => &["TOOL-007"],
        (Flaw::IgnoresToolChoice, _) => &["TOOL-005"],
        (Flaw::IgnoresResponseFormat, _) => &["JSON-001"],
        // Gemini gives no ids, so raw ids are empty: invalid everywhere, and unlike the stream's.
        (Flaw::RawToolCallIds, Kind::Gemini) => {
            &["CTR-003", "TOOL-001", "TOOL-002", "TOOL-003", "TOOL-006"]
        }
        (Flaw::RawToolCallIds, _) => &["TOOL-006"],
        (Flaw::UnknownFinishIsStop, _) => &["CTR-008"],
        (Flaw::ReasoningInText, _) => &["RSN-001"],
        (Flaw::MidStreamErrorsAreFinished, _) => &[
            "ERR-003", "ERR-004", "ERR-005", "ERR-006", "TOOL-008", "CAT-006",
        ],
        (Flaw::DrainsAbandonedStreams, _) => &["SL-005"],
        (Flaw::IgnoresTimeout, _) => &["ERR-006"],
        // Only generate loses it, so the stream no longer matches either.
        (Flaw::DropsResponseId, _) => &["CTR-001", "CTR-003"],
        // The tool_result answer has a degree sign.
        (Flaw::Latin1Text, _) => &["CTR-007", "TOOL-004"],
        // Only Gemini's calls carry a signature.
        (Flaw::DropsToolCallSignatures, Kind::Gemini) => &["TOOL-004"],
        (Flaw::DropsToolCallSignatures, _) => &[],
        // Anthropic's thinking and Responses' encrypted reasoning come with the tool call of
        // TOOL-004's round trip; the others issue no reasoning blocks.
        (Flaw::DropsReasoningBlocks, Kind::Anthropic | Kind::Responses) => &["TOOL-004"],
        (Flaw::DropsReasoningBlocks, _) => &[],
        (Flaw::ErrorsByStatusOnly, _) => &["ERR-001", "ERR-008", "ERR-009", "ERR-010"],
    };
    ids.iter().copied().collect()
}

/// How many checks run on a provider called directly: all but a server's own (SRV).
fn direct_checks() -> usize {
    concord_conformance::checks::CHECKS
        .iter()
        .filter(|c| c.family != "SRV")
        .count()
}

fn failed(report: &concord_conformance::Report, provider: &str) -> BTreeSet<&'static str> {
    report
        .results
        .iter()
        .filter(|r| r.provider == provider && matches!(r.outcome, Outcome::Fail(_)))
        .map(|r| r.check)
        .collect()
}

/// Every flawed subject (by its name in `report`) failed exactly the checks `want` lists for
/// it; panics listing every one that did not. Returns every check some subject must fail.
pub(crate) fn assert_each_fails_exactly(
    report: &concord_conformance::Report,
    want: Vec<(String, BTreeSet<&'static str>)>,
) -> BTreeSet<&'static str> {
    let mut problems = Vec::new();
    let mut covered = BTreeSet::new();
    for (name, want) in want {
        let got = failed(report, &name);
        if got != want {
            problems.push(format!("{name}: expected {want:?}, got {got:?}"));
        }
        covered.extend(want);
    }
    assert!(
        problems.is_empty(),
        "{}\n{}",
        problems.join("\n"),
        report.failures_text()
    );
    covered
}

/// Every check `which` selects is in `covered`: none of them is one no flaw can fail.
pub(crate) fn assert_every_check_is_failed(
    covered: &BTreeSet<&str>,
    which: impl Fn(&concord_conformance::checks::Check) -> bool,
    by: &str,
) {
    for check in concord_conformance::checks::CHECKS
        .iter()
        .filter(|c| which(c))
    {
        assert!(
            covered.contains(check.id),
            "{} is failed by no {by}",
            check.id
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_provider_fails_exactly_its_checks() {
    let label = |kind: (&str, Api), flaw: Flaw| format!("{}-{}/{flaw:?}", kind.0, kind.1.name());
    let subjects = Flaw::ALL.into_iter().flat_map(|flaw| {
        kinds_for(flaw).iter().map(move |&kind| Subject {
            name: label(kind, flaw),
            ..subject(kind, flaw)
        })
    });
    // One run for all of them; deliberate bugs are not saved as property-test regressions.
    let report = Suite::new()
        .subjects(subjects)
        // Most checks spend their time waiting on the mock (delays, timeouts, SL-005's 5 s
        // watch for a disconnect a broken provider never makes); running many at once overlaps
        // the waits: ~110 s at 4, ~80 s at 16 on this project's 2-core machine.
        .parallel(16)
        // Few property cases: this run asks only whether each flaw is caught, and with 175
        // subjects in flight SL-003 must not outlive its deadline on a loaded CI machine.
        .property_cases(6)
        // The dispatcher's checks test the dispatcher, not the provider inside it; they have a
        // self-test of their own (each_broken_dispatcher_fails_exactly_its_checks).
        .select(concord_conformance::Selection {
            families: concord_conformance::checks::CHECKS
                .iter()
                .map(|c| c.family.to_owned())
                .filter(|f| !["DSP", "REG", "CTX"].contains(&f.as_str()))
                .collect(),
            ..Default::default()
        })
        .run()
        .await;
    let mut problems = Vec::new();
    for flaw in Flaw::ALL {
        for &kind in kinds_for(flaw) {
            let name = label(kind, flaw);
            let mut got = failed(&report, &name);
            // Which credential it keeps depends on which of its calls ran first; when that was
            // the mock's own key, ERR-008's made-up key is swapped for it and let in, rightly.
            if flaw == Flaw::KeepsFirstCredential {
                got.remove("ERR-008");
            }
            let want = expected(flaw, kind_of(kind));
            if got != want {
                let notes: Vec<String> = report
                    .failures()
                    .iter()
                    .filter(|r| r.provider == name)
                    .map(|r| format!("  {}: {:?}", r.check, r.outcome))
                    .collect();
                problems.push(format!(
                    "{name}: expected failures {want:?}, got {got:?}\n{}",
                    notes.join("\n")
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_providers_pass_everything() {
    let report = Suite::new().subjects(Subject::defaults()).run().await;
    report.assert_passed();
    let (pass, _, skip) = report.counts();
    assert_eq!(
        skip,
        0,
        "the reference providers declare every capability: {}",
        report.failures_text()
    );
    assert_eq!(pass, Subject::defaults().len() * direct_checks());
}

/// Every check is failed by at least one broken provider, except those no wrapper around a
/// provider can break, each listed with the reason (and the DSP checks, by a broken dispatcher).
#[test]
fn every_check_can_fail() {
    const UNBREAKABLE: &[(&str, &str)] = &[
        ("MM-001", "failed by the `Liar` provider in a_provider_that_sends_what_it_declared_unsupported_fails"),
        ("SEC-001", "checks concord's own Debug output, which no provider controls"),
        ("SEC-002", "checks the fixture files, not a provider"),
        ("ERR-011", "sends a raw request to the server, not through a provider: failed by a server answering 500 in live_mock.rs"),
    ];
    let mut covered: BTreeSet<&str> = Flaw::ALL
        .iter()
        .flat_map(|f| {
            KINDS
                .into_iter()
                .flat_map(move |k| expected(*f, kind_of(k)))
        })
        .collect();
    // The DSP checks are failed by broken dispatchers instead, REG and CTX by broken
    // registries and runtimes stores,
    covered.extend(
        concord_conformance::broken_dispatch::DispatchFlaw::ALL
            .into_iter()
            .flat_map(dispatch_failures),
    );
    covered.extend(RegistryFlaw::ALL.into_iter().flat_map(registry_failures));
    covered.extend(RuntimesFlaw::ALL.into_iter().flat_map(runtimes_failures));
    // CAT by broken model databases, SRV by broken servers.
    covered.extend(ModelsFlaw::ALL.into_iter().flat_map(models_failures));
    covered.extend(
        concord_conformance::broken_server::ServerFlaw::ALL
            .into_iter()
            .flat_map(crate::broken_servers::server_failures),
    );
    for check in concord_conformance::checks::CHECKS {
        let listed = UNBREAKABLE.iter().any(|(id, _)| *id == check.id);
        assert!(
            covered.contains(check.id) || listed,
            "{} is failed by no broken provider",
            check.id
        );
    }
}

/// A declared-absent capability is a reasoned skip, never a silent pass or a missing row; and
/// MM-001 still verifies the provider refuses images before sending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absent_capabilities_are_reasoned_skips() {
    let caps = concord::Capabilities {
        image_input: false,
        reasoning_options: false,
        reasoning_output: false,
        json_schema: false,
        ..concord::Capabilities::ALL
    };
    let provider = concord::builtin("openai").unwrap().with_capabilities(caps);
    let report = Suite::new()
        .subject(Subject::new(
            "limited",
            concord_conformance::Protocol::Openai,
            provider,
        ))
        .run()
        .await;
    report.assert_passed();
    assert_eq!(
        report.results.len(),
        direct_checks(),
        "every check has a row"
    );
    for (id, reason) in [
        ("MM-001", "no image input"),
        ("RSN-001", "no reasoning output"),
        ("JSON-001", "no JSON-schema output"),
    ] {
        match &report.get(id, "limited").unwrap().outcome {
            Outcome::Skip(why) => assert!(why.starts_with(reason), "{id}: {why}"),
            other => panic!("{id}: expected a skip, got {other:?}"),
        }
    }
    let (_, _, skipped) = report.counts();
    assert_eq!(skipped, 3);
}

/// An image-less provider that still sends images fails MM-001.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_sends_what_it_declared_unsupported_fails() {
    struct Liar(concord::HttpProvider);
    impl concord::Provider for Liar {
        fn name(&self) -> &str {
            self.0.name()
        }
        fn capabilities(&self) -> concord::Capabilities {
            concord::Capabilities {
                image_input: false,
                ..concord::Capabilities::ALL
            }
        }
        fn generate<'a>(
            &'a self,
            r: &'a concord::Request,
            c: &'a concord::RuntimeContext,
        ) -> futures_util::future::BoxFuture<'a, concord::Result<concord::Response>> {
            self.0.generate(r, c)
        }
        fn stream<'a>(
            &'a self,
            r: &'a concord::Request,
            c: &'a concord::RuntimeContext,
        ) -> futures_util::future::BoxFuture<'a, concord::Result<concord::EventStream>> {
            self.0.stream(r, c)
        }
    }
    let report = Suite::new()
        .subject(Subject::new(
            "liar",
            concord_conformance::Protocol::Openai,
            Liar(concord::builtin("openai").unwrap()),
        ))
        .select(concord_conformance::Selection {
            checks: vec!["MM-001".into()],
            ..Default::default()
        })
        .run()
        .await;
    assert!(matches!(
        report.get("MM-001", "liar").unwrap().outcome,
        Outcome::Fail(_)
    ));
}

/// A client that stores sampling parameters as `f32` (as async-openai does) puts its own
/// runtime's values on the wire and must pass the isolation checks: SL-002 and SL-003 once
/// compared `0.05 * 3` exactly and failed such a client although it was isolated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_keeps_parameters_as_f32_is_isolated() {
    struct F32(concord::HttpProvider);
    fn narrowed(c: &concord::RuntimeContext) -> concord::RuntimeContext {
        let mut c = c.clone();
        c.settings.temperature = c.settings.temperature.map(|t| f64::from(t as f32));
        c
    }
    impl concord::Provider for F32 {
        fn name(&self) -> &str {
            self.0.name()
        }
        fn capabilities(&self) -> concord::Capabilities {
            self.0.capabilities()
        }
        fn generate<'a>(
            &'a self,
            r: &'a concord::Request,
            c: &'a concord::RuntimeContext,
        ) -> futures_util::future::BoxFuture<'a, concord::Result<concord::Response>> {
            Box::pin(async move { self.0.generate(r, &narrowed(c)).await })
        }
        fn stream<'a>(
            &'a self,
            r: &'a concord::Request,
            c: &'a concord::RuntimeContext,
        ) -> futures_util::future::BoxFuture<'a, concord::Result<concord::EventStream>> {
            Box::pin(async move { self.0.stream(r, &narrowed(c)).await })
        }
    }
    let report = Suite::new()
        .subject(Subject::new(
            "f32",
            concord_conformance::Protocol::Openai,
            F32(concord::builtin("openai").unwrap()),
        ))
        .select(concord_conformance::Selection {
            checks: vec!["SL-002".into(), "SL-003".into()],
            ..Default::default()
        })
        .run()
        .await;
    report.assert_passed();
    assert_eq!(report.counts().0, 2, "both checks ran and passed");
}

/// The DSP checks each broken dispatcher must fail.
fn dispatch_failures(
    flaw: concord_conformance::broken_dispatch::DispatchFlaw,
) -> BTreeSet<&'static str> {
    use concord_conformance::broken_dispatch::DispatchFlaw::*;
    let ids: &[&str] = match flaw {
        IgnoresRate => &["DSP-001", "DSP-002", "DSP-003"],
        // It also strips the vendor's own retry_after from the errors it passes on.
        NoRetryAfter => &["DSP-002", "DSP-003", "DSP-006"],
        IgnoresConcurrency => &["DSP-004", "DSP-009"],
        NoBreaker => &["DSP-005", "DSP-007"],
        NeverHalfOpens => &["DSP-005"],
        RetriesEverything => &["DSP-006"],
        UnboundedQueue => &["DSP-002"],
        LeaksPermitOnDrop => &["DSP-009"],
        ReplaysFromStart => &["DSP-008"],
    };
    ids.iter().copied().collect()
}

/// Each broken dispatcher, around each reference provider, fails exactly its DSP checks, and
/// every DSP check is failed by one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_dispatcher_fails_exactly_its_checks() {
    use concord_conformance::broken_dispatch::DispatchFlaw;
    use concord_conformance::Selection;
    let subjects = DispatchFlaw::ALL.into_iter().flat_map(|flaw| {
        Subject::defaults().into_iter().map(move |s| Subject {
            name: format!("{}/{flaw:?}", s.name),
            ..s.with_dispatch(flaw.factory())
        })
    });
    let report = Suite::new()
        .subjects(subjects)
        .select(Selection {
            families: vec!["DSP".into()],
            ..Selection::default()
        })
        .parallel(16)
        .run()
        .await;
    let want = DispatchFlaw::ALL
        .into_iter()
        .flat_map(|flaw| {
            Subject::defaults()
                .into_iter()
                .map(move |s| (format!("{}/{flaw:?}", s.name), dispatch_failures(flaw)))
        })
        .collect();
    let covered = assert_each_fails_exactly(&report, want);
    assert_every_check_is_failed(&covered, |c| c.family == "DSP", "broken dispatcher");
}

/// The REG checks each broken registry must fail.
fn registry_failures(flaw: RegistryFlaw) -> BTreeSet<&'static str> {
    let ids: &[&str] = match flaw {
        RegistryFlaw::ReplacesDuplicates => &["REG-001"],
        RegistryFlaw::IgnoresEnvironment => &["REG-002"],
        RegistryFlaw::StaleHealth => &["REG-003"],
        RegistryFlaw::UnboundedShutdown => &["REG-004"],
        RegistryFlaw::UnregisterCancelsCalls => &["REG-005"],
    };
    ids.iter().copied().collect()
}

/// The CTX checks each broken runtimes store must fail.
fn runtimes_failures(flaw: RuntimesFlaw) -> BTreeSet<&'static str> {
    let ids: &[&str] = match flaw {
        // One runtime for everybody: users get each other's settings, and nothing is ever
        // evicted (so no idle or capacity events either).
        RuntimesFlaw::GlobalCurrent => &["CTX-001", "CTX-002", "CTX-003"],
        RuntimesFlaw::NoIdleEviction => &["CTX-002"],
        RuntimesFlaw::NoCap => &["CTX-003"],
        RuntimesFlaw::PinFollowsUser => &["CTX-004"],
    };
    ids.iter().copied().collect()
}

/// Each broken registry and runtimes store, holding each reference provider, fails exactly its
/// checks, and every REG and CTX check is failed by one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_registry_and_runtimes_store_fails_exactly_its_checks() {
    use concord_conformance::Selection;
    let mut subjects = Vec::new();
    let mut want = Vec::new();
    for s in Subject::defaults() {
        for flaw in RegistryFlaw::ALL {
            let name = format!("{}/{flaw:?}", s.name);
            want.push((name.clone(), registry_failures(flaw)));
            subjects.push(Subject {
                name,
                ..s.clone().with_registry(flaw.factory())
            });
        }
        for flaw in RuntimesFlaw::ALL {
            let name = format!("{}/{flaw:?}", s.name);
            want.push((name.clone(), runtimes_failures(flaw)));
            subjects.push(Subject {
                name,
                ..s.clone().with_runtimes(flaw.factory())
            });
        }
    }
    let report = Suite::new()
        .subjects(subjects)
        .select(Selection {
            families: vec!["REG".into(), "CTX".into()],
            ..Selection::default()
        })
        .parallel(16)
        .run()
        .await;
    let covered = assert_each_fails_exactly(&report, want);
    assert_every_check_is_failed(
        &covered,
        |c| c.family == "REG" || c.family == "CTX",
        "broken registry or runtimes store",
    );
}

/// The CAT checks each broken model database must fail.
fn models_failures(flaw: ModelsFlaw) -> BTreeSet<&'static str> {
    let ids: &[&str] = match flaw {
        ModelsFlaw::NoCacheDiscount => &["CAT-001"],
        ModelsFlaw::PricesByReference => &["CAT-002"],
        ModelsFlaw::NoLifecycle => &["CAT-003"],
        ModelsFlaw::NoDefault => &["CAT-004"],
        ModelsFlaw::LimitsIgnored => &["CAT-005"],
        ModelsFlaw::InventedCost => &["CAT-006"],
    };
    ids.iter().copied().collect()
}

/// Each broken model database, metering each reference provider, fails exactly its checks,
/// and every CAT check is failed by one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_model_database_fails_exactly_its_checks() {
    use concord_conformance::Selection;
    let mut subjects = Vec::new();
    let mut want = Vec::new();
    for s in Subject::defaults() {
        for flaw in ModelsFlaw::ALL {
            let name = format!("{}/{flaw:?}", s.name);
            want.push((name.clone(), models_failures(flaw)));
            subjects.push(Subject {
                name,
                ..s.clone().with_models(flaw.factory())
            });
        }
    }
    let report = Suite::new()
        .subjects(subjects)
        .select(Selection {
            families: vec!["CAT".into()],
            ..Selection::default()
        })
        .parallel(8)
        .run()
        .await;
    let covered = assert_each_fails_exactly(&report, want);
    assert_every_check_is_failed(&covered, |c| c.family == "CAT", "broken model database");
}
