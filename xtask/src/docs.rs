//! Generated documentation: written by a command, checked for freshness with `--check`.

use anyhow::{bail, Result};

use crate::root;

/// Writes `rel` with `content`, or with `check` fails with a diff when they differ.
pub fn write_or_check(rel: &str, content: &str, check: bool, command: &str) -> Result<()> {
    let path = root().join(rel);
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current == content {
        if !check {
            eprintln!("{rel} is up to date");
        }
        return Ok(());
    }
    if check {
        let diff = similar::TextDiff::from_lines(current.as_str(), content);
        bail!(
            "{rel} is stale; run `{command}`. Diff (- committed, + generated):\n{}",
            diff.unified_diff().context_radius(2)
        );
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&path, content)?;
    eprintln!("wrote {rel}");
    Ok(())
}

pub fn env_docs(check: bool) -> Result<()> {
    use concord_registry::settings::docs;
    let sections = concord_server::sections();
    for (file, content) in [
        ("docs/configuration.md", docs::configuration_md(&sections)),
        (".env.example", docs::env_example(&sections)),
        ("concord.example.toml", docs::example_toml(&sections)),
    ] {
        write_or_check(file, &content, check, "cargo xtask env-docs")?;
    }
    Ok(())
}

/// `docs/plugin-protocol.schema.json`: the JSON Schema of every plugin-protocol line, generated
/// from the Rust types.
pub fn plugin_schema(check: bool) -> Result<()> {
    let schema = concord::plugin::schema::protocol_schema();
    write_or_check(
        "docs/plugin-protocol.schema.json",
        &(serde_json::to_string_pretty(&schema)? + "\n"),
        check,
        "cargo xtask plugin-schema",
    )
}
