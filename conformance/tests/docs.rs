//! `docs/conformance.md` is generated from a mock-mode run; this fails when it is stale.

use concord_conformance::{Subject, Suite};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_doc_is_fresh() {
    let report = Suite::new().subjects(Subject::all_builtin()).run().await;
    let generated = concord_conformance::report::conformance_doc(&report);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/conformance.md");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/conformance.md is stale: run `cargo xtask conformance --write-docs`"
    );
}
