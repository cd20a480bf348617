//! The suite as ordinary tests named `<provider>::<check>`, so `cargo test` and
//! `cargo nextest run -E 'test(/anthropic/)'` select (and nextest partitions) the same way the
//! `--provider`/`--check` flags of `cargo xtask conformance` do.

use concord::Api;
use concord_conformance::checks::by_id;
use concord_conformance::{Outcome, Subject, Suite};

fn run((name, api): (&str, Api), id: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let subject = Subject::builtin(name, Some(api)).expect("provider built with its feature");
    let check = by_id(id).expect("check id");
    let suite = Suite::new().regressions_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/proptest-regressions/sl_003.txt"
    ));
    let result = runtime.block_on(suite.run_one(check, &subject));
    match result.outcome {
        Outcome::Pass => {}
        // Skips are reasoned and shown; mock mode skips only declared-absent capabilities.
        Outcome::Skip(why) => eprintln!("skip {id} [{}]: {why}", subject.name),
        Outcome::Fail(why) => panic!("{id} [{}]: {why}", subject.name),
    }
}

/// Calls `$m!` with the arguments given and the list of every check.
macro_rules! with_checks {
    ($m:ident!($($args:tt)*)) => {
        $m!($($args)*;
            ctr_001 = "CTR-001", ctr_002 = "CTR-002", ctr_003 = "CTR-003", ctr_004 = "CTR-004",
            ctr_005 = "CTR-005", ctr_006 = "CTR-006", ctr_007 = "CTR-007", ctr_008 = "CTR-008",
            tool_001 = "TOOL-001", tool_002 = "TOOL-002", tool_003 = "TOOL-003", tool_004 = "TOOL-004",
            tool_005 = "TOOL-005", tool_006 = "TOOL-006", tool_007 = "TOOL-007", tool_008 = "TOOL-008",
            rsn_001 = "RSN-001", json_001 = "JSON-001", mm_001 = "MM-001", use_001 = "USE-001",
            err_001 = "ERR-001", err_002 = "ERR-002", err_003 = "ERR-003", err_004 = "ERR-004",
            err_005 = "ERR-005", err_006 = "ERR-006", err_007 = "ERR-007",
            sl_001 = "SL-001", sl_002 = "SL-002", sl_003 = "SL-003", sl_004 = "SL-004", sl_005 = "SL-005",
            sec_001 = "SEC-001", sec_002 = "SEC-002"
        );
    };
}

macro_rules! provider_tests {
    ($provider:ident, $kind:expr; $($f:ident = $id:literal),*) => {
        mod $provider {
            use super::*;
            $(
                #[test]
                fn $f() {
                    run($kind, $id);
                }
            )*
        }
    };
}

with_checks!(provider_tests!(openai, ("openai", Api::Chat)));
with_checks!(provider_tests!(
    openai_responses,
    ("openai", Api::Responses)
));
with_checks!(provider_tests!(anthropic, ("anthropic", Api::Messages)));
with_checks!(provider_tests!(gemini, ("gemini", Api::GenerateContent)));

/// The macro above lists every check of the catalogue, no more, no fewer.
#[test]
fn every_catalogue_check_has_a_test() {
    let source = include_str!("conformance.rs");
    for check in concord_conformance::checks::CHECKS {
        let f = check.id.to_ascii_lowercase().replace('-', "_");
        assert!(
            source.contains(&format!("{f} = \"{}\"", check.id)),
            "no test for {}",
            check.id
        );
    }
}
