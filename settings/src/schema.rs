//! Reading a section's JSON Schema: its keys in declaration order, each key's description,
//! type, default, variable and example, and what a valid value looks like.

use schemars::Schema;
use serde_json::Value;

/// One key of a section, as its schema and declaration describe it.
#[derive(Debug, Clone)]
pub struct KeyDoc {
    /// The key.
    pub name: String,
    /// Its doc comment.
    pub about: String,
    /// The kind of value, for the docs' table (`integer`, `rate`, `secret reference`, …).
    pub ty: String,
    /// Its default as TOML, if it has one.
    pub default: Option<String>,
    /// The environment variable that also sets it.
    pub var: Option<String>,
    /// An older variable name still read, with a notice.
    pub alias: Option<String>,
    /// A TOML value for the annotated example file.
    pub example: Option<String>,
    /// What a valid value looks like.
    pub expected: String,
}

/// The schema of the key at `path` below the root (a map section's first segment is an
/// instance name), with `$ref`s and `null` alternatives resolved.
pub(crate) fn at<'a>(root: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut s = resolve(root, root);
    for seg in path {
        s = match s.get("properties").and_then(|p| p.get(seg)) {
            Some(p) => resolve(root, p),
            None => match s.get("additionalProperties") {
                Some(a) if a.is_object() => resolve(root, a),
                _ => return None,
            },
        };
    }
    Some(s)
}

/// Whether a section is a table of named instances (`[providers.<name>]`).
pub(crate) fn is_map(root: &Value) -> bool {
    let s = resolve(root, root);
    s.get("properties").is_none() && s.get("additionalProperties").is_some_and(Value::is_object)
}

/// Follows `$ref` into `$defs`, and from an `Option`'s `anyOf [T, null]` to `T`.
fn resolve<'a>(root: &'a Value, s: &'a Value) -> &'a Value {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        if let Some(name) = r.strip_prefix("#/$defs/") {
            if let Some(def) = root.get("$defs").and_then(|d| d.get(name)) {
                return resolve(root, def);
            }
        }
    }
    for alt in ["anyOf", "oneOf"] {
        if let Some(list) = s.get(alt).and_then(Value::as_array) {
            let real: Vec<&Value> = list
                .iter()
                .filter(|v| v.get("type").and_then(Value::as_str) != Some("null"))
                .collect();
            if real.len() == 1 && list.len() == 2 {
                return resolve(root, real[0]);
            }
        }
    }
    s
}

/// The schema's type without `null`: `integer`, `string`, …
fn type_name(s: &Value) -> Option<&str> {
    match s.get("type")? {
        Value::String(t) => Some(t),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    }
}

/// The kind of value at `s`, for the docs.
fn ty(s: &Value) -> String {
    if let Some(t) = s.get("x-type").and_then(Value::as_str) {
        return t.to_owned();
    }
    if s.get("enum").is_some() {
        return "one of".into();
    }
    match type_name(s) {
        Some("integer") => "integer",
        Some("number") => "number",
        Some("boolean") => "bool",
        Some("string") => "string",
        Some("object") => "table",
        Some("array") => "list",
        _ => "value",
    }
    .into()
}

/// What a valid value looks like, for a problem's `expected`.
pub(crate) fn expected(s: &Value) -> String {
    if let Some(e) = s.get("x-expected").and_then(Value::as_str) {
        return e.to_owned();
    }
    if let Some(values) = s.get("enum").and_then(Value::as_array) {
        let names: Vec<String> = values.iter().map(toml).collect();
        return format!("one of {}", names.join(", "));
    }
    let min = s.get("minimum").and_then(Value::as_f64);
    let max = s.get("maximum").and_then(Value::as_f64);
    match (type_name(s), min, max) {
        (Some("integer"), Some(min), _) => format!("a whole number ≥ {min}"),
        (Some("integer"), None, _) => "a whole number".into(),
        (Some("number"), Some(min), Some(max)) => format!("a number from {min} to {max}"),
        (Some("number"), _, _) => "a number".into(),
        (Some("boolean"), _, _) => "true or false".into(),
        (Some("string"), _, _) => "a string".into(),
        (Some("object"), _, _) => "a table".into(),
        _ => String::new(),
    }
}

/// Why `x` is outside the range the schema at `s` states, if it is.
pub(crate) fn out_of_range(s: &Value, x: f64) -> Option<String> {
    let min = s.get("minimum").and_then(Value::as_f64);
    let max = s.get("maximum").and_then(Value::as_f64);
    match (min, max) {
        (Some(min), _) if x < min => Some(format!("below the smallest allowed, {min}")),
        (_, Some(max)) if x > max => Some(format!("above the largest allowed, {max}")),
        _ => None,
    }
}

/// A JSON value as TOML writes it.
pub(crate) fn toml(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Object(o) => {
            let inner: Vec<String> = o
                .iter()
                .map(|(k, v)| {
                    // A key TOML cannot write bare (`openai/gpt-4o`) is quoted.
                    let bare = !k.is_empty()
                        && k.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                    if bare {
                        format!("{k} = {}", toml(v))
                    } else {
                        format!("{k:?} = {}", toml(v))
                    }
                })
                .collect();
            format!("{{ {} }}", inner.join(", "))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(toml).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}

/// The keys of `schema` (of the instance, for a map section), in the order `order` gives.
pub(crate) fn keys(schema: &Schema, order: &[&str]) -> Vec<KeyDoc> {
    let root = schema.as_value();
    let mut s = resolve(root, root);
    if is_map(root) {
        s = resolve(root, &s["additionalProperties"]);
    }
    let Some(props) = s.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut names: Vec<&String> = props.keys().collect();
    names.sort_by_key(|n| order.iter().position(|o| o == n).unwrap_or(usize::MAX));
    names
        .into_iter()
        .map(|name| {
            let raw = &props[name];
            let p = resolve(root, raw);
            let text = |k: &str| {
                raw.get(k)
                    .or_else(|| p.get(k))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            let default = raw.get("default").filter(|d| !d.is_null()).map(toml);
            KeyDoc {
                name: name.clone(),
                about: text("description").unwrap_or_default().replace('\n', " "),
                ty: text("x-type").unwrap_or_else(|| ty(p)),
                default,
                var: text("x-env"),
                alias: text("x-env-alias"),
                example: raw
                    .get("examples")
                    .and_then(Value::as_array)
                    .and_then(|e| e.first())
                    .map(toml),
                expected: raw
                    .get("x-expected")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| expected(p)),
            }
        })
        .collect()
}
