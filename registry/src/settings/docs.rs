//! The file's documentation and its annotated example, generated from the key table and checked
//! for freshness (`cargo xtask env-docs --check`).

use concord::env::EnvVar;

use super::keys::{self, Key, CONCERNS, KEYS, PROVIDER};

/// Every variable of the registry: concord's (the general ones and each descriptor row's), the
/// dispatcher's, this crate's.
pub fn all_vars() -> Vec<EnvVar> {
    let mut vars = concord::env::all();
    vars.extend_from_slice(concord_dispatch::settings::VARS);
    vars.extend_from_slice(keys::VARS);
    vars
}

/// `docs/configuration.md`: the variables, then the file's keys.
pub fn configuration_md() -> String {
    format!(
        "{}
{}",
        concord::env::markdown_of(&all_vars()),
        markdown()
    )
}

/// `.env.example`.
pub fn env_example() -> String {
    concord::env::env_example_of(&all_vars())
}

/// The markdown section of `docs/configuration.md` that lists the file's keys.
pub fn markdown() -> String {
    let mut out = String::from(
        "## The configuration file\n\n\
         `concord providers`, `concord chat --config` and programs using `concord-registry` read a \
         TOML file (`--config FILE`, else `CONCORD_CONFIG`). Precedence, lowest first: \
         **defaults < file < environment < overrides** (`--set key=value`). A variable in the \
         *Variable* column sets the same value as the key and wins over the file. Relative paths \
         resolve against the file's folder. Secrets are referenced (`credential = { env = \"VAR\" }` \
         or `{ file = \"path\" }`), never written in the file. `concord config check [FILE]` prints \
         the resolved configuration with the source of every value and exits 2 listing every \
         problem. An annotated example: [`concord.example.toml`](../concord.example.toml).\n",
    );
    let sections = std::iter::once(PROVIDER).chain(CONCERNS);
    for section in sections {
        out.push_str(&format!("\n### `[{section}]`\n\n"));
        out.push_str("| Key | Type | Default | Variable | Description |\n|---|---|---|---|---|\n");
        for k in keys::of(section) {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                k.name,
                k.ty.name(),
                k.default.map_or("—".into(), |d| format!("`{d}`")),
                k.var.map_or("—".into(), |v| format!("`{}`", v.name)),
                k.about.replace('|', "\\|"),
            ));
        }
    }
    out
}

fn value(k: &Key) -> String {
    k.example
        .map(str::to_owned)
        .unwrap_or_else(|| match k.default {
            Some(d)
                if matches!(
                    k.ty,
                    keys::Ty::Int { .. } | keys::Ty::Number { .. } | keys::Ty::Bool
                ) =>
            {
                d.to_owned()
            }
            Some(d) => format!("{d:?}"),
            None => match k.ty {
                keys::Ty::Int { .. } => "1".into(),
                keys::Ty::Number { .. } => "0.7".into(),
                keys::Ty::Bool => "true".into(),
                keys::Ty::Rate => "\"500/min\"".into(),
                keys::Ty::Api => "\"chat\"".into(),
                keys::Ty::Credential => "{ env = \"VARIABLE\" }".into(),
                keys::Ty::Path => "\"path\"".into(),
                _ => "\"…\"".into(),
            },
        })
}

fn entry(out: &mut String, k: &Key, on: bool) {
    out.push_str(&format!("# {}\n", k.about));
    if let Some(v) = k.var {
        out.push_str(&format!("# Environment: {}.\n", v.name));
    }
    let line = format!("{} = {}\n", k.name, value(k));
    if on {
        out.push_str(&line);
    } else {
        out.push_str(&format!("# {line}"));
    }
}

/// `concord.example.toml`: every key, annotated; a provider from the file and the repository's
/// plugins folder, so `concord providers list --config concord.example.toml` shows all three
/// sources (with a key variable set for the environment's).
pub fn example_toml() -> String {
    let mut out = String::from(
        "# concord.example.toml — generated from the key table (registry/src/settings/keys.rs) by\n\
         # `cargo xtask env-docs`; do not edit. Every key is listed; commented ones show their\n\
         # default. Precedence, lowest first: defaults < this file < environment < --set overrides.\n\
         # Check a file with `concord config check FILE`.\n\n\
         # One section per provider instance; the name is yours (it is what `--provider` takes).\n\
         [providers.main]\n",
    );
    for k in keys::of(PROVIDER) {
        entry(&mut out, k, k.example.is_some());
    }
    out.push_str(
        "\n# A second instance of the same vendor under another name, here a local server.\n\
         [providers.local]\n\
         type = \"openai-compatible\"\n\
         base_url = \"http://127.0.0.1:8080/v1\"\n\
         credential = { env = \"LOCAL_LLM_KEY\" }\n\
         model = \"qwen3\"\n\
         # Switched off: kept in the file, not registered.\n\
         enabled = false\n",
    );
    for section in CONCERNS {
        out.push_str(&format!("\n[{section}]\n"));
        for k in KEYS.iter().filter(|k| k.section == section) {
            entry(&mut out, k, k.example.is_some());
        }
    }
    out
}
