//! Documentation generated from the sections themselves: the table of every variable, the
//! file's keys section by section, `.env.example`, and an annotated example file.

use crate::{KeyDoc, SectionInfo};

/// One environment variable, for the docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarDoc {
    /// Its name.
    pub name: String,
    /// The kind of value.
    pub ty: String,
    /// Its default, if any.
    pub default: Option<String>,
    /// The heading it is listed under.
    pub group: String,
    /// What it does.
    pub description: String,
}

/// The variables the sections declare (`x-env`), each under its section's heading, with its
/// old name (`x-env-alias`) listed as such.
pub fn variables(sections: &[SectionInfo]) -> Vec<VarDoc> {
    let mut out = Vec::new();
    for info in sections.iter().filter(|s| !s.is_map()) {
        for k in info.keys() {
            let Some(var) = &k.var else { continue };
            let default = k.default.as_deref().map(|d| d.trim_matches('"').to_owned());
            out.push(VarDoc {
                name: var.clone(),
                ty: k.ty.clone(),
                default: default.clone(),
                group: format!("[{}]", info.path),
                description: format!("{} (`{}.{}`)", k.about, info.path, k.name),
            });
            if let Some(alias) = &k.alias {
                out.push(VarDoc {
                    name: alias.clone(),
                    ty: k.ty.clone(),
                    default: None,
                    group: format!("[{}]", info.path),
                    description: format!(
                        "The old name of `{var}`, still read when `{var}` is not set (a notice says so)."
                    ),
                });
            }
        }
    }
    out
}

/// The variables as markdown tables, one per group, in first-seen group order.
pub fn variables_markdown(vars: &[VarDoc]) -> String {
    let mut out = String::new();
    let mut groups: Vec<&str> = Vec::new();
    for v in vars {
        if !groups.contains(&v.group.as_str()) {
            groups.push(&v.group);
        }
    }
    for group in groups {
        out.push_str(&format!(
            "\n## {group}\n\n| variable | type | default | description |\n|---|---|---|---|\n"
        ));
        for v in vars.iter().filter(|v| v.group == group) {
            let default = v
                .default
                .as_deref()
                .map_or_else(|| "—".to_owned(), |d| format!("`{d}`"));
            out.push_str(&format!(
                "| `{}` | {} | {default} | {} |\n",
                v.name,
                v.ty,
                v.description.replace('|', "\\|")
            ));
        }
    }
    out
}

/// `.env.example` for `vars`, below `header` (its first line says what generated it).
pub fn env_example(header: &str, vars: &[VarDoc]) -> String {
    let mut out = format!("{header}\n");
    let mut group = "";
    for v in vars {
        if v.group != group {
            group = &v.group;
            out.push_str(&format!("\n# {group}\n"));
        }
        out.push_str(&format!(
            "# {}\n{}={}\n",
            v.description,
            v.name,
            v.default.as_deref().unwrap_or("")
        ));
    }
    out
}

/// The heading a section has in the file (`[providers.<name>]` for named instances).
pub fn heading(info: &SectionInfo) -> String {
    if info.is_map() {
        format!("[{}.<name>]", info.path)
    } else {
        format!("[{}]", info.path)
    }
}

/// One table per section: its keys with type, default, variable and description.
pub fn sections_markdown(sections: &[SectionInfo]) -> String {
    let mut out = String::new();
    for info in sections {
        out.push_str(&format!("\n### `{}`\n\n{}\n\n", heading(info), info.about));
        out.push_str("| Key | Type | Default | Variable | Description |\n|---|---|---|---|---|\n");
        for k in info.keys() {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                k.name,
                k.ty,
                k.default
                    .as_deref()
                    .map_or("—".into(), |d| format!("`{d}`")),
                k.var.as_deref().map_or("—".into(), |v| format!("`{v}`")),
                k.about.replace('|', "\\|"),
            ));
        }
    }
    out
}

/// A key as the annotated example writes it: its description, its variable, and the line —
/// set to its example when it has one, else commented out at its default.
fn entry(out: &mut String, k: &KeyDoc) {
    out.push_str(&format!("# {}\n", k.about));
    if let Some(v) = &k.var {
        out.push_str(&format!("# Environment: {v}.\n"));
    }
    match (&k.example, &k.default) {
        (Some(e), _) => out.push_str(&format!("{} = {e}\n", k.name)),
        (None, Some(d)) => out.push_str(&format!("# {} = {d}\n", k.name)),
        (None, None) => out.push_str(&format!("# {} = …\n", k.name)),
    }
}

/// A section of the annotated example file; a table of named instances is written as the
/// instance `instance`.
pub fn example_section(info: &SectionInfo, instance: &str) -> String {
    let head = if info.is_map() {
        format!("[{}.{instance}]", info.path)
    } else {
        format!("[{}]", info.path)
    };
    let mut out = format!("{head}\n");
    for k in info.keys() {
        entry(&mut out, &k);
    }
    out
}
