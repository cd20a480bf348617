//! Loading: the layers merged by figment, every section checked (every problem kept, with its
//! `file:line`, variable or override), then typed access to each section.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::de::DeserializeOwned;

use crate::locate::{line_at, Located};
use crate::section::{extract, Section, SectionInfo};
use crate::{Problem, Problems, Sources};

const ENV_LAYER: &str = "environment";

/// One value that is set, with where it came from, for `concord config check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The setting.
    pub setting: String,
    /// Its value as TOML (a secret shows its reference).
    pub value: String,
    /// Where it came from.
    pub source: String,
}

/// A loaded and checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    figment: Figment,
    root: Dict,
    text: Option<Located>,
    file: Option<PathBuf>,
    /// The variable that set each setting taken from the environment.
    vars: BTreeMap<String, String>,
    sections: Vec<SectionInfo>,
    notices: Vec<String>,
}

impl Config {
    /// Loads `src` and checks it as `sections`: `Err` lists every problem found — in the file,
    /// in variables, in overrides — each with its setting, source and what a valid value is.
    pub fn load(src: &Sources<'_>, sections: &[SectionInfo]) -> Result<Config, Problems> {
        let mut figment = Figment::new();
        let mut text = None;
        if let Some(path) = &src.file {
            let raw = std::fs::read_to_string(path).map_err(|e| {
                one(
                    "(the file)",
                    path.display().to_string(),
                    format!("cannot read it: {e}"),
                    "a readable TOML file (see concord.example.toml)",
                )
            })?;
            if let Err(e) = toml_edit::ImDocument::parse(raw.as_str()) {
                let line = e.span().map_or(1, |s| line_at(&raw, s.start));
                return Err(one(
                    "(the file)",
                    format!("{}:{line}", path.display()),
                    e.message().trim().to_owned(),
                    "valid TOML",
                ));
            }
            figment = figment.merge(Toml::file_exact(path));
            text = Located::parse(&raw);
        }
        let env = EnvLayer::new(src, sections);
        let (vars, notices) = (env.vars.clone(), env.notices.clone());
        figment = figment.merge(env);
        if !src.overrides.is_empty() {
            figment = figment.merge(Toml::string(&overrides_as_toml(&src.overrides)));
        }
        let root = match figment.data() {
            Ok(mut data) => data.remove(&Profile::Default).unwrap_or_default(),
            Err(e) => {
                return Err(one(
                    &e.path.join("."),
                    "override".into(),
                    e.kind.to_string(),
                    "",
                ))
            }
        };
        let config = Config {
            figment,
            root,
            text,
            file: src.file.clone(),
            vars,
            sections: sections.to_vec(),
            notices,
        };
        let problems = config.problems();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(Problems(problems))
        }
    }

    fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        for name in self.root.keys() {
            if !self.sections.iter().any(|s| s.path == name) {
                let known: Vec<&str> = self.sections.iter().map(|s| s.path).collect();
                out.push(Problem {
                    setting: name.clone(),
                    source: self.source_of(std::slice::from_ref(name)),
                    message: "is not a section concord knows".into(),
                    expected: format!("one of {}", known.join(", ")),
                });
            }
        }
        let empty = Value::from(Dict::new());
        for info in &self.sections {
            let value = self.root.get(info.path).unwrap_or(&empty);
            let schema = info.schema();
            for issue in info.check(value) {
                let expected = if issue.expected.is_empty() {
                    crate::schema::at(schema.as_value(), &issue.key)
                        .map(crate::schema::expected)
                        .unwrap_or_default()
                } else {
                    issue.expected
                };
                let mut path = vec![info.path.to_owned()];
                path.extend(issue.key);
                out.push(Problem {
                    setting: path.join("."),
                    source: self.source_of(&path),
                    message: issue.message,
                    expected,
                });
            }
        }
        out.sort_by(|a, b| a.setting.cmp(&b.setting));
        out
    }

    /// The section `T`, typed (its defaults where nothing sets it).
    pub fn get<T: Section>(&self) -> T {
        self.at(&[T::PATH]).unwrap_or_default()
    }

    /// The value at `path`, typed: `None` when nothing sets it or it is not a `T`.
    pub fn at<T: DeserializeOwned>(&self, path: &[&str]) -> Option<T> {
        extract(self.value(path)?).ok()
    }

    /// The table at `over` laid over the one at `base` (keys of `over` win), as `T`: a
    /// per-instance table that overrides some keys of a section (`[providers.x.dispatcher]`
    /// over `[dispatcher]`).
    pub fn merged<T: DeserializeOwned + Default>(&self, base: &[&str], over: &[&str]) -> T {
        let mut table = self
            .value(base)
            .and_then(Value::as_dict)
            .cloned()
            .unwrap_or_default();
        if let Some(o) = self.value(over).and_then(Value::as_dict) {
            table.extend(o.clone());
        }
        extract(&table.into()).unwrap_or_default()
    }

    /// The raw value at `path`.
    pub fn value(&self, path: &[&str]) -> Option<&Value> {
        let (first, rest) = path.split_first()?;
        let mut v = self.root.get(*first)?;
        for seg in rest {
            v = v.as_dict()?.get(*seg)?;
        }
        Some(v)
    }

    /// A path given at `at` (a relative one resolves against the file's folder when the value
    /// came from the file, else against the working folder).
    pub fn path(&self, at: &[&str], p: &Path) -> PathBuf {
        let from_file = self
            .value(at)
            .and_then(|v| self.figment.get_metadata(v.tag()))
            .is_some_and(|m| matches!(m.source, Some(figment::Source::File(_))));
        if from_file && p.is_relative() {
            self.base_dir().join(p)
        } else {
            p.to_owned()
        }
    }

    /// Where the value at `path` came from: `file:line`, `environment variable X`,
    /// `override`, or `default`. A missing key names the line of its nearest table in the file.
    pub fn source_of(&self, path: &[String]) -> String {
        let segs: Vec<&str> = path.iter().map(String::as_str).collect();
        let at_file = |file: &Path| match self.text.as_ref().and_then(|t| t.line_of(&segs)) {
            Some(line) => format!("{}:{line}", file.display()),
            None => file.display().to_string(),
        };
        let meta = self
            .value(&segs)
            .and_then(|v| self.figment.get_metadata(v.tag()));
        match meta {
            Some(m) if m.name == ENV_LAYER => match self.vars.get(&path.join(".")) {
                Some(var) => format!("environment variable {var}"),
                None => "environment".into(),
            },
            Some(Metadata {
                source: Some(figment::Source::File(p)),
                ..
            }) => at_file(p),
            Some(_) => "override".into(),
            None => match (
                &self.file,
                self.text.as_ref().and_then(|t| t.line_of(&segs)),
            ) {
                (Some(f), Some(_)) => at_file(f),
                _ => "default".into(),
            },
        }
    }

    /// Notices the load gave (an old variable name in use), for the program to print.
    pub fn notices(&self) -> &[String] {
        &self.notices
    }

    /// The file read, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The file's folder, against which relative paths in it resolve.
    pub fn base_dir(&self) -> &Path {
        self.file
            .as_deref()
            .and_then(Path::parent)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    }

    /// Every setting with a value — set ones with their source, the rest `default` — section
    /// by section in the order the sections were given; secrets show their reference.
    pub fn resolved(&self) -> Vec<Resolved> {
        let mut out = Vec::new();
        for info in &self.sections {
            // By table, then key: a table's keys stay together under one heading.
            let mut rows: BTreeMap<(String, String), Resolved> = BTreeMap::new();
            let empty = Value::from(Dict::new());
            let raw = self.root.get(info.path).unwrap_or(&empty);
            // The values as the program reads them; where each came from, from the sources.
            let typed = info.typed(raw).unwrap_or_else(|| info.defaults());
            if let Some(d) = typed.as_dict() {
                leaves(d, &mut vec![info.path.to_owned()], &mut |path, v| {
                    let (key, table) = path.split_last().expect("a leaf has a path");
                    let segs: Vec<&str> = path.iter().map(String::as_str).collect();
                    let source = match self.value(&segs) {
                        Some(_) => self.source_of(path),
                        None => "default".into(),
                    };
                    rows.insert((table.join("."), key.clone()), self.row(path, v, source));
                });
            }
            out.extend(rows.into_values());
        }
        out
    }

    fn row(&self, path: &[String], v: &Value, source: String) -> Resolved {
        Resolved {
            setting: path.join("."),
            value: render(v),
            source,
        }
    }

    /// The resolved configuration as TOML, each value with its source.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut section = String::new();
        for r in self.resolved() {
            let (s, key) = r.setting.rsplit_once('.').unwrap_or(("", &r.setting));
            if s != section {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(&format!("[{s}]\n"));
                section = s.to_owned();
            }
            out.push_str(&format!("{key} = {}  # {}\n", r.value, r.source));
        }
        out
    }
}

fn one(setting: &str, source: String, message: String, expected: &str) -> Problems {
    Problems(vec![Problem {
        setting: setting.to_owned(),
        source,
        message,
        expected: expected.to_owned(),
    }])
}

/// `setting = value` lines; a value that is not TOML is taken as a string.
fn overrides_as_toml(overrides: &[(String, String)]) -> String {
    let lines: Vec<String> = overrides
        .iter()
        .map(|(k, v)| {
            let as_toml = format!("{k} = {v}");
            if toml_edit::ImDocument::parse(as_toml.as_str()).is_ok() {
                as_toml
            } else {
                format!("{k} = {v:?}")
            }
        })
        .collect();
    lines.join("\n")
}

/// Calls `f` with the path of every value that is not a table (an inline table of a secret
/// reference counts as one value).
fn leaves(d: &Dict, path: &mut Vec<String>, f: &mut dyn FnMut(&[String], &Value)) {
    for (k, v) in d {
        path.push(k.clone());
        match v {
            // An absent optional key.
            Value::Empty(..) => {}
            Value::Dict(_, inner) if !is_reference(inner) => leaves(inner, path, f),
            _ => f(path, v),
        }
        path.pop();
    }
}

fn is_reference(d: &Dict) -> bool {
    d.len() == 1 && (d.contains_key("env") || d.contains_key("file"))
}

/// A value as TOML writes it.
fn render(v: &Value) -> String {
    match v {
        Value::String(_, s) => format!("{s:?}"),
        Value::Char(_, c) => format!("{:?}", c.to_string()),
        Value::Bool(_, b) => b.to_string(),
        Value::Num(_, n) => n
            .to_f64()
            .filter(|x| x.fract() != 0.0)
            .map(|x| x.to_string())
            .or_else(|| n.to_i128().map(|i| i.to_string()))
            .or_else(|| n.to_u128().map(|i| i.to_string()))
            .unwrap_or_default(),
        Value::Empty(..) => "\"\"".into(),
        Value::Dict(_, d) => {
            let inner: Vec<String> = d
                .iter()
                .map(|(k, v)| format!("{k} = {}", render(v)))
                .collect();
            format!("{{ {} }}", inner.join(", "))
        }
        Value::Array(_, a) => format!("[{}]", a.iter().map(render).collect::<Vec<_>>().join(", ")),
    }
}

/// The environment as a figment layer: each key whose variable (`x-env` in its section's
/// schema) is set; an old name (`x-env-alias`) counts when the new one is not set, with a
/// notice.
struct EnvLayer {
    dict: Dict,
    vars: BTreeMap<String, String>,
    notices: Vec<String>,
}

impl EnvLayer {
    fn new(src: &Sources<'_>, sections: &[SectionInfo]) -> Self {
        let mut layer = Self {
            dict: Dict::new(),
            vars: BTreeMap::new(),
            notices: Vec::new(),
        };
        let get = |name: &str| (src.env)(name).filter(|v| !v.trim().is_empty());
        for info in sections.iter().filter(|s| !s.is_map()) {
            for key in info.keys() {
                let Some(var) = &key.var else { continue };
                let found = match (
                    get(var),
                    key.alias.as_deref().and_then(|a| get(a).map(|v| (a, v))),
                ) {
                    (Some(v), _) => Some((var.clone(), v)),
                    (None, Some((alias, v))) => {
                        layer.notices.push(format!(
                            "{alias} is the old name of {var} ({}.{}); it still works, but set {var} instead",
                            info.path, key.name
                        ));
                        Some((alias.to_owned(), v))
                    }
                    (None, None) => None,
                };
                let Some((name, value)) = found else { continue };
                layer
                    .vars
                    .insert(format!("{}.{}", info.path, key.name), name);
                let section = layer
                    .dict
                    .entry(info.path.to_owned())
                    .or_insert_with(|| Value::from(Dict::new()));
                if let Value::Dict(_, d) = section {
                    d.insert(key.name.clone(), Value::from(value));
                }
            }
        }
        layer
    }
}

impl Provider for EnvLayer {
    fn metadata(&self) -> Metadata {
        Metadata::named(ENV_LAYER)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}
