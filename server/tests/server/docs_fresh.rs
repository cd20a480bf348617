//! `docs/configuration.md`, `.env.example` and `concord.example.toml` are generated from the
//! program's sections — every variable (concord's, the dispatcher's, the registry's, the model
//! database's, the server's) and every key; this fails when one is stale. It lives here because
//! this crate is the one that sees every section (`concord_server::sections`).

use concord_registry::settings::docs;

#[test]
fn configuration_docs_and_the_example_file_are_fresh() {
    let sections = concord_server::sections();
    for (file, generated) in [
        ("docs/configuration.md", docs::configuration_md(&sections)),
        (".env.example", docs::env_example(&sections)),
        ("concord.example.toml", docs::example_toml(&sections)),
    ] {
        let path = format!("{}/../{file}", env!("CARGO_MANIFEST_DIR"));
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{file} is stale: run `cargo xtask env-docs`"
        );
    }
}

/// The generated example loads as the program loads a file (every section, `[server]` too).
#[test]
fn the_example_file_loads() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../concord.example.toml");
    let s = concord_registry::load_with(
        &concord_registry::Sources::with_vars(Some(example), &[]),
        &concord_server::sections(),
    )
    .unwrap();
    assert!(s.providers.contains_key("main"));
    assert!(!s.providers["local"].enabled);
    let server = s.config.get::<concord_server::ServerSection>();
    assert_eq!(server.listen, "127.0.0.1:8080");
}
