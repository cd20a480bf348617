//! A section of the configuration, declared by the crate that owns it: a serde struct with
//! `deny_unknown_fields` and defaults, documented by its doc comments and schema attributes
//! (`x-env` for its variable), and a [`Section::validate`] for rules serde cannot state.

use figment::providers::Serialized;
use figment::value::{Dict, Value};
use figment::Figment;
use schemars::{JsonSchema, Schema};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// One problem a section found, its key relative to the section (`["retries"]`,
/// `["azure", "base_url"]` in a table of named instances).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Where, below the section.
    pub key: Vec<String>,
    /// What is wrong (never a secret's value).
    pub message: String,
    /// What a valid value looks like (empty: the schema says).
    pub expected: String,
}

/// The problems [`Section::validate`] finds.
#[derive(Debug, Default)]
pub struct Issues(pub(crate) Vec<Issue>);

impl Issues {
    /// `key` (dotted below the section, `azure.base_url`) is wrong.
    pub fn push(
        &mut self,
        key: impl AsRef<str>,
        message: impl Into<String>,
        expected: impl Into<String>,
    ) {
        self.0.push(Issue {
            key: key.as_ref().split('.').map(str::to_owned).collect(),
            message: message.into(),
            expected: expected.into(),
        });
    }

    /// Another section's issues (a nested table checked as that section), under `prefix`.
    pub fn extend_under(&mut self, prefix: &str, issues: Vec<Issue>) {
        for mut i in issues {
            let mut key: Vec<String> = prefix.split('.').map(str::to_owned).collect();
            key.append(&mut i.key);
            i.key = key;
            self.0.push(i);
        }
    }

    /// Whether none were found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A typed section of the configuration.
pub trait Section: Serialize + DeserializeOwned + Default + JsonSchema + 'static {
    /// Where it sits: `dispatcher` for `[dispatcher]`; a section that is a table of named
    /// instances (`[providers.<name>]`) is a map type.
    const PATH: &'static str;

    /// What it configures, one sentence for the docs.
    const ABOUT: &'static str;

    /// Rules serde cannot state: ranges, keys that need each other, references to other
    /// things. Each issue names its key.
    fn validate(&self, _issues: &mut Issues) {}
}

/// A section, type-erased: what the loader, the docs and `config check` need of it.
#[derive(Clone, Copy)]
pub struct SectionInfo {
    /// Where it sits.
    pub path: &'static str,
    /// What it configures.
    pub about: &'static str,
    schema: fn() -> Schema,
    check: fn(&Value) -> Vec<Issue>,
    defaults: fn() -> Value,
    order: fn() -> &'static [&'static str],
    typed: fn(&Value) -> Option<Value>,
}

impl std::fmt::Debug for SectionInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SectionInfo")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SectionInfo {
    /// The section `T`.
    pub fn of<T: Section>() -> Self {
        Self {
            path: T::PATH,
            about: T::ABOUT,
            schema: || schemars::schema_for!(T),
            check: check::<T>,
            defaults: || Value::serialize(T::default()).unwrap_or_else(|_| Dict::new().into()),
            order: field_order::<T>,
            typed: |v| Value::serialize(extract::<T>(v).ok()?).ok(),
        }
    }

    /// Its keys (an instance's, for a table of named instances), in declaration order.
    pub fn keys(&self) -> Vec<crate::KeyDoc> {
        crate::schema::keys(&self.schema(), (self.order)())
    }

    /// Whether it is a table of named instances (`[providers.<name>]`).
    pub fn is_map(&self) -> bool {
        crate::schema::is_map(self.schema().as_value())
    }

    /// Its JSON Schema (keys, types, doc comments, defaults, `x-env` variables).
    pub fn schema(&self) -> Schema {
        (self.schema)()
    }

    /// Every problem `value` (the section's table) has.
    pub fn check(&self, value: &Value) -> Vec<Issue> {
        (self.check)(value)
    }

    /// Its defaults, as a table.
    pub fn defaults(&self) -> Value {
        (self.defaults)()
    }

    /// `value` as the program reads it: deserialized (a variable's string as the number it
    /// stands for, absent keys at their defaults) and written back as a table.
    pub fn typed(&self, value: &Value) -> Option<Value> {
        (self.typed)(value)
    }
}

/// The struct's fields in declaration order: serde's "unknown field" error lists them so (a
/// JSON Schema's properties are sorted by name). For a table of named instances, the
/// instance's.
fn field_order<T: Section>() -> &'static [&'static str] {
    let bogus = |v: Value| {
        let mut d = Dict::new();
        d.insert("\u{1}".into(), v);
        Value::from(d)
    };
    for probe in [bogus(Value::from(0)), bogus(bogus(Value::from(0)))] {
        if let Err(e) = extract::<T>(&probe) {
            for e in e {
                if let figment::error::Kind::UnknownField(_, fields) = e.kind {
                    return fields;
                }
            }
        }
    }
    &[]
}

/// Deserializes `value` as `T`, reading strings as numbers or booleans where `T` wants them
/// (a variable is always a string).
// figment's error is large, and a section is loaded a handful of times: boxing it buys nothing.
#[allow(clippy::result_large_err)]
pub(crate) fn extract<T: DeserializeOwned>(value: &Value) -> Result<T, figment::Error> {
    Figment::from(Serialized::defaults(value)).extract_lossy()
}

/// Every problem of `value` as the section `T`. Serde stops at the first error, so each leaf
/// is tried alone (the section with only that key set: every other key takes its default),
/// which finds one problem per key; then the rest without the bad keys as a whole (for keys
/// that conflict), and [`Section::validate`] on it.
pub fn check<T: Section>(value: &Value) -> Vec<Issue> {
    let Some(dict) = value.as_dict() else {
        return vec![Issue {
            key: Vec::new(),
            message: "is not a table".into(),
            expected: format!("a [{}] section", T::PATH),
        }];
    };
    let mut issues: Vec<Issue> = Vec::new();
    let mut good = dict.clone();
    for leaf in leaves(dict) {
        if let Err(e) = extract::<T>(&only(dict, &leaf)) {
            remove(&mut good, &leaf);
            if !issues.iter().any(|i| i.key == leaf) {
                let (message, expected) = message(&e);
                issues.push(Issue {
                    key: leaf,
                    message,
                    expected,
                });
            }
        }
    }
    // Ranges the schema states (`range(min = 1)`) that serde's types do not.
    let schema = schemars::schema_for!(T);
    for leaf in leaves(&good.clone()) {
        let Some(at) = crate::schema::at(schema.as_value(), &leaf) else {
            continue;
        };
        let value = only_value(&good, &leaf)
            .and_then(|v| v.to_num_lossy())
            .and_then(|n| {
                n.to_f64()
                    .or(n.to_u128().map(|u| u as f64))
                    .or(n.to_i128().map(|i| i as f64))
            });
        if let (Some(x), Some(why)) = (
            value,
            value.and_then(|x| crate::schema::out_of_range(at, x)),
        ) {
            remove(&mut good, &leaf);
            issues.push(Issue {
                key: leaf,
                message: format!("{x} is {why}"),
                expected: String::new(),
            });
        }
    }
    match extract::<T>(&good.into()) {
        Ok(section) => {
            let mut found = Issues::default();
            section.validate(&mut found);
            // A bad key was taken out: a rule about it would only repeat the problem.
            found
                .0
                .retain(|f| !issues.iter().any(|i| f.key.starts_with(&i.key)));
            issues.extend(found.0);
        }
        Err(e) => {
            let (message, expected) = message(&e);
            issues.push(Issue {
                key: e.path.clone(),
                message,
                expected,
            })
        }
    }
    issues
}

/// Takes the value at `path` out of `dict`.
fn remove(dict: &mut Dict, path: &[String]) {
    match path {
        [] => {}
        [last] => {
            dict.remove(last);
        }
        [first, rest @ ..] => {
            if let Some(Value::Dict(_, inner)) = dict.get_mut(first) {
                remove(inner, rest);
            }
        }
    }
}

/// [`check`] for a table held as JSON (a section nested in another, kept as a table so its
/// keys can be laid over the top-level section's).
pub fn check_json<T: Section>(table: &serde_json::Value) -> Vec<Issue> {
    match Value::serialize(table) {
        Ok(v) => check::<T>(&v),
        Err(e) => vec![Issue {
            key: Vec::new(),
            message: e.to_string(),
            expected: String::new(),
        }],
    }
}

/// The paths of every non-table value.
fn leaves(dict: &Dict) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (k, v) in dict {
        match v.as_dict() {
            Some(inner) if !inner.is_empty() => {
                for mut rest in leaves(inner) {
                    rest.insert(0, k.clone());
                    out.push(rest);
                }
            }
            _ => out.push(vec![k.clone()]),
        }
    }
    out
}

/// The value at `path`.
fn only_value<'a>(dict: &'a Dict, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let v = dict.get(first)?;
    if rest.is_empty() {
        Some(v)
    } else {
        only_value(v.as_dict()?, rest)
    }
}

/// `dict` with only the value at `path` (and the tables around it).
fn only(dict: &Dict, path: &[String]) -> Value {
    let mut out = Dict::new();
    if let Some((first, rest)) = path.split_first() {
        if let Some(v) = dict.get(first) {
            let kept = match (v.as_dict(), rest.is_empty()) {
                (Some(inner), false) => only(inner, rest),
                _ => v.clone(),
            };
            out.insert(first.clone(), kept);
        }
    }
    out.into()
}

/// A serde error in words a person reads, and what a valid value looks like when the error
/// knows (the keys there are, for an unknown one; else the schema says): the value that is
/// wrong (a secret's type never shows it), Rust's type names as what they mean.
fn message(e: &figment::Error) -> (String, String) {
    use figment::error::Kind;
    let text = match &e.kind {
        Kind::UnknownField(_, known) => {
            return (
                "is not a setting concord knows".into(),
                format!("one of {}", known.join(", ")),
            )
        }
        Kind::InvalidType(actual, _) | Kind::InvalidValue(actual, _) => {
            format!("{actual} is not valid")
        }
        other => other.to_string(),
    };
    let mut out = text;
    for (rust, words) in [
        ("expected u8", "expected a whole number"),
        ("expected u16", "expected a whole number"),
        ("expected u32", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected usize", "expected a whole number"),
        ("expected i64", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected f32", "expected a number"),
        ("expected a boolean", "expected true or false"),
    ] {
        out = out.replace(rust, words);
    }
    (out, String::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Demo {
        retries: u32,
        on: bool,
        name: Option<String>,
    }

    impl Section for Demo {
        const PATH: &'static str = "demo";
        const ABOUT: &'static str = "A demo.";

        fn validate(&self, issues: &mut Issues) {
            if self.retries > 9 {
                issues.push("retries", "is more than 9", "at most 9");
            }
        }
    }

    fn table(pairs: &[(&str, Value)]) -> Value {
        let mut d = Dict::new();
        for (k, v) in pairs {
            d.insert(k.to_string(), v.clone());
        }
        d.into()
    }

    #[test]
    fn every_bad_key_is_found_not_just_the_first() {
        let v = table(&[
            ("retries", Value::from("many")),
            ("on", Value::from("maybe")),
            ("nmae", Value::from("x")),
            ("name", Value::from("ok")),
        ]);
        let issues = check::<Demo>(&v);
        let keys: Vec<String> = issues.iter().map(|i| i.key.join(".")).collect();
        assert_eq!(keys, ["nmae", "on", "retries"], "{issues:#?}");
        assert_eq!(issues[0].message, "is not a setting concord knows");
        assert_eq!(issues[0].expected, "one of retries, on, name");
        assert_eq!(
            issues[2].message, "string \"many\" is not valid",
            "{issues:#?}"
        );
    }

    #[test]
    fn strings_from_variables_read_as_numbers_and_validate_runs_last() {
        let v = table(&[("retries", Value::from("3")), ("on", Value::from("true"))]);
        assert!(check::<Demo>(&v).is_empty());
        assert_eq!(
            extract::<Demo>(&v).unwrap(),
            Demo {
                retries: 3,
                on: true,
                name: None
            }
        );
        let issues = check::<Demo>(&table(&[("retries", Value::from(12))]));
        assert_eq!(issues[0].message, "is more than 9");
    }
}
