//! `docs/configuration.md` and `.env.example` are generated from the registry — concord's
//! variables, then the dispatcher's — this fails when they are stale. (Here, not in `concord`:
//! only this crate sees both.)

#[test]
fn configuration_docs_are_fresh() {
    let mut vars = concord::env::all();
    vars.extend_from_slice(concord_dispatch::settings::VARS);
    for (file, generated) in [
        ("docs/configuration.md", concord::env::markdown_of(&vars)),
        (".env.example", concord::env::env_example_of(&vars)),
    ] {
        let path = format!("{}/../{file}", env!("CARGO_MANIFEST_DIR"));
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{file} is stale: run `cargo xtask env-docs`"
        );
    }
}
