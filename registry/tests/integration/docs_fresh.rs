//! `docs/configuration.md`, `.env.example` and `concord.example.toml` are generated from the
//! registries — every variable (concord's, the dispatcher's, this crate's) and the file's key
//! table; this fails when one is stale. (Here: only this crate sees all of them.)

use concord_registry::settings::docs;

#[test]
fn configuration_docs_and_the_example_file_are_fresh() {
    for (file, generated) in [
        ("docs/configuration.md", docs::configuration_md()),
        (".env.example", docs::env_example()),
        ("concord.example.toml", docs::example_toml()),
    ] {
        let path = format!("{}/../{file}", env!("CARGO_MANIFEST_DIR"));
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{file} is stale: run `cargo xtask env-docs`"
        );
    }
}
