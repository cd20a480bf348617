//! The suite as ordinary tests named `<mode>::<provider>::<check>`, so `cargo test` and nextest
//! select (and partition) the same way the flags of `cargo xtask conformance` do:
//! `cargo nextest run -E 'test(/mock::anthropic::/)'`, `cargo test -p concord-conformance
//! --test conformance tool_00`, `cargo nextest run -E 'test(/live::gemini::/)'`.
//!
//! `mock::` runs every check against the mock vendors. `live::` runs the live checks against
//! the real vendors, and only when `CONCORD_LIVE=1` is set (a developer's keys in the
//! environment never make `cargo test` spend money); without it, or without a vendor's key,
//! each live test passes after printing why it skipped.

// The suite's other tests share this binary (each test binary is a link on CI's 2 cores);
// `tests/live.rs` stays apart because it sets process environment variables.
mod broken_servers;
mod docs;
mod gateway;
mod live_mock;
mod one_row;
mod self_test;

use concord::Api;
use concord_conformance::checks::by_id;
use concord_conformance::{Mode, Outcome, Subject, Suite};

/// The variable that opts in to live tests.
const OPT_IN: &str = "CONCORD_LIVE";

fn run(mode: Mode, (name, api): (&str, Api), id: &str) {
    run_door(mode, (name, api), None, id)
}

/// As [`run`], the provider behind concord's server, called through `door`.
fn run_door(
    mode: Mode,
    (name, api): (&str, Api),
    door: Option<concord_conformance::served::Door>,
    id: &str,
) {
    if mode == Mode::Live && std::env::var(OPT_IN).as_deref() != Ok("1") {
        eprintln!("skip live {id} [{name}]: set {OPT_IN}=1 and the vendor's key to run it");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let subject = Subject::builtin(name, Some(api)).expect("provider built with its feature");
    let subject = match door {
        Some(door) => {
            subject.through_server(door, concord_conformance::served::concord_server_factory())
        }
        None => subject,
    };
    let check = by_id(id).expect("check id");
    let suite = Suite::new().mode(mode).regressions_file(concat!(
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
            err_005 = "ERR-005", err_006 = "ERR-006", err_007 = "ERR-007", err_008 = "ERR-008",
            err_009 = "ERR-009", err_010 = "ERR-010", err_011 = "ERR-011",
            dsp_001 = "DSP-001", dsp_002 = "DSP-002", dsp_003 = "DSP-003", dsp_004 = "DSP-004",
            dsp_005 = "DSP-005", dsp_006 = "DSP-006", dsp_007 = "DSP-007", dsp_008 = "DSP-008",
            dsp_009 = "DSP-009",
            reg_001 = "REG-001", reg_002 = "REG-002", reg_003 = "REG-003", reg_004 = "REG-004",
            reg_005 = "REG-005",
            ctx_001 = "CTX-001", ctx_002 = "CTX-002", ctx_003 = "CTX-003", ctx_004 = "CTX-004",
            sl_001 = "SL-001", sl_002 = "SL-002", sl_003 = "SL-003", sl_004 = "SL-004", sl_005 = "SL-005",
            cat_001 = "CAT-001", cat_002 = "CAT-002", cat_003 = "CAT-003", cat_004 = "CAT-004",
            cat_005 = "CAT-005", cat_006 = "CAT-006",
            srv_001 = "SRV-001", srv_002 = "SRV-002", srv_003 = "SRV-003", srv_004 = "SRV-004",
            srv_005 = "SRV-005", srv_006 = "SRV-006", srv_007 = "SRV-007", srv_008 = "SRV-008",
            sec_001 = "SEC-001", sec_002 = "SEC-002"
        );
    };
}

/// Calls `$m!` with the arguments given and the list of the live checks.
macro_rules! with_live_checks {
    ($m:ident!($($args:tt)*)) => {
        $m!($($args)*;
            ctr_001 = "CTR-001", ctr_002 = "CTR-002", ctr_003 = "CTR-003", ctr_004 = "CTR-004",
            tool_001 = "TOOL-001", tool_002 = "TOOL-002", tool_003 = "TOOL-003", tool_004 = "TOOL-004",
            tool_005 = "TOOL-005", rsn_001 = "RSN-001", json_001 = "JSON-001", use_001 = "USE-001",
            err_007 = "ERR-007", err_008 = "ERR-008", err_009 = "ERR-009", err_010 = "ERR-010",
            err_011 = "ERR-011", sl_001 = "SL-001", sec_001 = "SEC-001", sec_002 = "SEC-002"
        );
    };
}

macro_rules! provider_tests {
    ($mode:expr, $provider:ident, $kind:expr; $($f:ident = $id:literal),*) => {
        mod $provider {
            use super::*;
            $(
                #[test]
                fn $f() {
                    run($mode, $kind, $id);
                }
            )*
        }
    };
}

mod mock {
    use super::*;
    with_checks!(provider_tests!(Mode::Mock, openai, ("openai", Api::Chat)));
    with_checks!(provider_tests!(
        Mode::Mock,
        openai_responses,
        ("openai", Api::Responses)
    ));
    with_checks!(provider_tests!(
        Mode::Mock,
        anthropic,
        ("anthropic", Api::Messages)
    ));
    with_checks!(provider_tests!(
        Mode::Mock,
        gemini,
        ("gemini", Api::GenerateContent)
    ));
}

/// The suite through `concord serve`, across formats: an OpenAI client to Anthropic, an
/// Anthropic client to OpenAI (`cargo xtask conformance --through-server all` runs every
/// provider through both doors).
mod served {
    use super::*;
    use concord_conformance::served::Door;

    macro_rules! served_tests {
        ($provider:ident, $kind:expr, $door:expr; $($f:ident = $id:literal),*) => {
            mod $provider {
                use super::*;
                $(
                    #[test]
                    fn $f() {
                        run_door(Mode::Mock, $kind, Some($door), $id);
                    }
                )*
            }
        };
    }

    with_checks!(served_tests!(
        anthropic_via_openai_door,
        ("anthropic", Api::Messages),
        Door::Openai
    ));
    with_checks!(served_tests!(
        openai_via_anthropic_door,
        ("openai", Api::Chat),
        Door::Anthropic
    ));
}

mod live {
    use super::*;
    with_live_checks!(provider_tests!(Mode::Live, openai, ("openai", Api::Chat)));
    with_live_checks!(provider_tests!(
        Mode::Live,
        openai_responses,
        ("openai", Api::Responses)
    ));
    with_live_checks!(provider_tests!(
        Mode::Live,
        anthropic,
        ("anthropic", Api::Messages)
    ));
    with_live_checks!(provider_tests!(
        Mode::Live,
        gemini,
        ("gemini", Api::GenerateContent)
    ));
    with_live_checks!(provider_tests!(
        Mode::Live,
        openrouter,
        ("openrouter", Api::Chat)
    ));
    with_live_checks!(provider_tests!(
        Mode::Live,
        openai_compatible,
        ("openai-compatible", Api::Chat)
    ));
    with_live_checks!(provider_tests!(Mode::Live, azure, ("azure", Api::Chat)));
    with_live_checks!(provider_tests!(
        Mode::Live,
        vertex,
        ("vertex", Api::GenerateContent)
    ));
}

/// The macros above list every check of the catalogue, and every live one, no more, no fewer.
#[test]
fn every_catalogue_check_has_a_test() {
    let source = include_str!("main.rs");
    let list = |name: &str| {
        let start = source.find(&format!("macro_rules! {name}")).unwrap();
        let end = start + source[start..].find(");").unwrap();
        source[start..end].to_owned()
    };
    let (all, live) = (list("with_checks"), list("with_live_checks"));
    for check in concord_conformance::checks::CHECKS {
        let row = format!(
            "{} = \"{}\"",
            check.id.to_ascii_lowercase().replace('-', "_"),
            check.id
        );
        assert!(all.contains(&row), "no mock test for {}", check.id);
        assert_eq!(
            live.contains(&row),
            check.is_live(),
            "live tests and {}",
            check.id
        );
    }
}
