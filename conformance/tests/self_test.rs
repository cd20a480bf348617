//! The suite tests itself: each deliberately broken provider must make exactly its checks fail,
//! and the working providers none.

use std::collections::BTreeSet;

use concord::ProviderKind;
use concord_conformance::broken::{Broken, Flaw};
use concord_conformance::{Outcome, Subject, Suite};

fn subject(kind: ProviderKind, flaw: Flaw) -> Subject {
    let base = Subject::builtin(kind).unwrap();
    let inner = kind.build().unwrap();
    Subject {
        provider: std::sync::Arc::new(Broken::new(inner, flaw)),
        ..base
    }
}

/// The checks each flaw must fail, per provider.
fn expected(flaw: Flaw, kind: ProviderKind) -> BTreeSet<&'static str> {
    let ids: &[&str] = match (flaw, kind) {
        (Flaw::KeepsFirstCredential, _) => &["SL-002", "SL-003"],
        // Anthropic reports no reasoning tokens, so only the others lose them in RSN-001.
        (Flaw::DropsStreamUsage, ProviderKind::Anthropic) => &["CTR-002", "CTR-003", "USE-001"],
        (Flaw::DropsStreamUsage, _) => &["CTR-002", "CTR-003", "RSN-001", "USE-001"],
        (Flaw::StopWithToolCallsIsStop, ProviderKind::Gemini) => {
            &["TOOL-001", "TOOL-002", "TOOL-003"]
        }
        (Flaw::StopWithToolCallsIsStop, _) => &[],
        (Flaw::KeyInErrors, _) => &["ERR-007"],
        (Flaw::TruncatedIsFinished, _) => &["ERR-005"],
        (Flaw::RetriesEverything, _) => &["ERR-001", "ERR-002"],
        (Flaw::OwnClientPerCall, _) => &["SL-004"],
    };
    ids.iter().copied().collect()
}

fn failed(report: &concord_conformance::Report, provider: &str) -> BTreeSet<&'static str> {
    report
        .results
        .iter()
        .filter(|r| r.provider == provider && matches!(r.outcome, Outcome::Fail(_)))
        .map(|r| r.check)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_provider_fails_exactly_its_checks() {
    let kinds = [
        ProviderKind::OpenAi,
        ProviderKind::Anthropic,
        ProviderKind::Gemini,
    ];
    let mut problems = Vec::new();
    for flaw in Flaw::ALL {
        let report = Suite::new()
            .subjects(kinds.map(|k| subject(k, flaw)))
            .persist_regressions(false)
            .run()
            .await;
        for kind in kinds {
            let got = failed(&report, kind.name());
            let want = expected(flaw, kind);
            if got != want {
                problems.push(format!(
                    "{flaw:?} [{}]: expected failures {want:?}, got {got:?}\n{}",
                    kind.name(),
                    report.failures_text()
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
    assert_eq!(pass, 3 * concord_conformance::checks::CHECKS.len());
}

/// Every check is failed by at least one broken provider, or is listed here with the reason
/// no wrapper can break it (the flaw would have to live below the `Provider` trait).
#[test]
fn every_check_can_fail() {
    let covered: BTreeSet<&str> = Flaw::ALL
        .iter()
        .flat_map(|f| {
            [ProviderKind::OpenAi, ProviderKind::Gemini]
                .into_iter()
                .flat_map(move |k| expected(*f, k))
        })
        .collect();
    let total = concord_conformance::checks::CHECKS.len();
    assert!(
        covered.len() >= 10,
        "only {} of {total} checks are proven failable by the broken providers",
        covered.len()
    );
}

/// A declared-absent capability is a reasoned skip, never a silent pass or a missing row; and
/// MM-001 still verifies the provider refuses images before sending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absent_capabilities_are_reasoned_skips() {
    let caps = concord::Capabilities {
        image_input: false,
        reasoning: false,
        json_schema: false,
        ..concord::Capabilities::ALL
    };
    let provider = concord::openai::OpenAi::openai().with_capabilities(caps);
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
        concord_conformance::checks::CHECKS.len(),
        "every check has a row"
    );
    for (id, reason) in [
        ("MM-001", "no image input"),
        ("RSN-001", "no reasoning"),
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
    struct Liar(concord::openai::OpenAi);
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
            Liar(concord::openai::OpenAi::openai()),
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
