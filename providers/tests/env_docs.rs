//! `docs/configuration.md` and `.env.example` are generated from the registry; this fails when
//! they are stale.

#[test]
fn configuration_docs_are_fresh() {
    for (file, generated) in [
        ("docs/configuration.md", concord::env::markdown()),
        (".env.example", concord::env::env_example()),
    ] {
        let path = format!("{}/../{file}", env!("CARGO_MANIFEST_DIR"));
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{file} is stale: run `cargo xtask env-docs`"
        );
    }
}
