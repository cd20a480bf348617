//! Loading: the layers merged by figment, then every value checked against the key table, every
//! problem kept, and the typed [`Settings`] built from what passed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use concord::descriptor::{self, Api};
use concord_dispatch::{DispatchConfig, Rate};
use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider as _};

use super::keys::{self, Key, Ty, CONCERNS};
use super::{
    locate, ProviderKind, ProviderSettings, RegistrySettings, Resolved, RuntimesSettings,
    SecretRef, Settings,
};
use crate::error::{Error, Problem, Problems};

const ENV_LAYER: &str = "environment";

/// How the loader reads a variable: its value by name.
pub type EnvLookup<'a> = Box<dyn Fn(&str) -> Option<String> + Send + Sync + 'a>;

/// Where settings come from (lowest precedence first): defaults, `file`, the environment
/// (looked up through `env`), `overrides` (`path = value`, e.g. from `--set`).
pub struct Sources<'a> {
    /// The TOML file, if any.
    pub file: Option<PathBuf>,
    /// How a variable is looked up (the process environment, or a test's map).
    pub env: EnvLookup<'a>,
    /// `(setting, value)` pairs that win over everything; a value that is not TOML is a string.
    pub overrides: Vec<(String, String)>,
}

impl Sources<'static> {
    /// No file, no variables, no overrides: the defaults.
    pub fn none() -> Self {
        Self {
            file: None,
            env: Box::new(|_| None),
            overrides: Vec::new(),
        }
    }

    /// `file` (if any) and the process environment.
    pub fn from_env(file: Option<PathBuf>) -> Self {
        Self {
            file,
            env: Box::new(|name| std::env::var(name).ok()),
            overrides: Vec::new(),
        }
    }
}

impl<'a> Sources<'a> {
    /// `file` and variables looked up in `pairs` (tests, programs with their own source).
    pub fn with_vars(file: Option<PathBuf>, pairs: &'a [(&'a str, &'a str)]) -> Self {
        Self {
            file,
            env: Box::new(move |name| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }),
            overrides: Vec::new(),
        }
    }
}

/// A checked value.
#[derive(Debug, Clone)]
enum Parsed {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Secret(SecretRef),
    Rate(Rate, String),
    Path(PathBuf),
}

impl Parsed {
    /// As TOML, for `config check` (a secret as its reference).
    fn render(&self) -> String {
        match self {
            Parsed::Text(s) | Parsed::Rate(_, s) => format!("{s:?}"),
            Parsed::Int(n) => n.to_string(),
            Parsed::Float(x) => x.to_string(),
            Parsed::Bool(b) => b.to_string(),
            Parsed::Secret(r) => r.to_string(),
            Parsed::Path(p) => format!("{:?}", p.display().to_string()),
        }
    }

    /// As a variable would spell it (for `DispatchConfig::from_lookup`).
    fn raw(&self) -> String {
        match self {
            Parsed::Text(s) | Parsed::Rate(_, s) => s.clone(),
            Parsed::Int(n) => n.to_string(),
            Parsed::Float(x) => x.to_string(),
            Parsed::Bool(b) => b.to_string(),
            Parsed::Secret(r) => r.to_string(),
            Parsed::Path(p) => p.display().to_string(),
        }
    }
}

struct Loader<'s> {
    src: &'s Sources<'s>,
    figment: Figment,
    text: Option<locate::Located>,
    problems: Vec<Problem>,
    values: BTreeMap<String, (Parsed, String)>,
}

/// Loads and checks the configuration: `Err(Error::Config)` lists every problem found.
pub fn load(src: &Sources<'_>) -> Result<Settings, Error> {
    let mut l = Loader {
        src,
        figment: Figment::new(),
        text: None,
        problems: Vec::new(),
        values: BTreeMap::new(),
    };
    if let Some(path) = &src.file {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                if let Err(e) = toml_edit::ImDocument::parse(text.as_str()) {
                    let line = e.span().map_or(1, |s| locate::line_at(&text, s.start));
                    return Err(Error::Config(Problems(vec![Problem {
                        setting: "(the file)".into(),
                        source: format!("{}:{line}", path.display()),
                        message: e.message().trim().to_owned(),
                        expected: "valid TOML".into(),
                    }])));
                }
                l.figment = l.figment.merge(Toml::file_exact(path));
                l.text = locate::Located::parse(&text);
            }
            Err(e) => {
                return Err(Error::Config(Problems(vec![Problem {
                    setting: "(the file)".into(),
                    source: path.display().to_string(),
                    message: format!("cannot read it: {e}"),
                    expected: "a readable TOML file (see concord.example.toml)".into(),
                }])))
            }
        }
    }
    l.figment = l.figment.merge(EnvLayer::new(src));
    if !src.overrides.is_empty() {
        let lines: Vec<String> = src
            .overrides
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
        l.figment = l.figment.merge(Toml::string(&lines.join("\n")));
    }
    let root = match l.figment.data() {
        Ok(mut data) => data.remove(&Profile::Default).unwrap_or_default(),
        Err(e) => {
            return Err(Error::Config(Problems(vec![Problem {
                setting: e.path.join("."),
                source: "override".into(),
                message: e.kind.to_string(),
                expected: String::new(),
            }])))
        }
    };
    l.walk(&root);
    l.finish(&root)
}

impl Loader<'_> {
    fn walk(&mut self, root: &Dict) {
        for (section, value) in root {
            match section.as_str() {
                "providers" => match value.as_dict() {
                    Some(instances) => {
                        for (name, body) in instances {
                            self.instance(name, body);
                        }
                    }
                    None => self.problem(
                        "providers",
                        value,
                        &["providers"],
                        "is not a table".into(),
                        "[providers.<name>] sections".into(),
                    ),
                },
                s if CONCERNS.contains(&s) => match value.as_dict() {
                    Some(d) => {
                        let s = CONCERNS.into_iter().find(|c| *c == s).expect("a concern");
                        for (k, v) in d {
                            self.key(s, None, k, v);
                        }
                    }
                    None => self.problem(
                        s,
                        value,
                        &[s],
                        "is not a table".into(),
                        format!("a [{s}] section"),
                    ),
                },
                other => self.problem(
                    other,
                    value,
                    &[other],
                    "is not a section concord knows".into(),
                    "one of providers, dispatcher, registry, runtimes, telemetry".into(),
                ),
            }
        }
    }

    fn instance(&mut self, name: &str, body: &Value) {
        let path = format!("providers.{name}");
        if let Err(why) = crate::name::check(name) {
            self.problem(
                &path,
                body,
                &["providers", name],
                format!("{name:?} cannot name a provider: {why}"),
                "a name of lowercase letters, digits, `-`, `_` or `.`".into(),
            );
        }
        let Some(d) = body.as_dict() else {
            self.problem(
                &path,
                body,
                &["providers", name],
                "is not a table".into(),
                format!("a [providers.{name}] section"),
            );
            return;
        };
        for (k, v) in d {
            self.key(keys::PROVIDER, Some(name), k, v);
        }
        if !d.contains_key("type") {
            self.problem(
                &format!("{path}.type"),
                body,
                &["providers", name],
                "is missing".into(),
                Ty::ProviderType.expected(),
            );
        }
    }

    /// Checks one key's value and keeps it.
    fn key(&mut self, section: &'static str, instance: Option<&str>, name: &str, v: &Value) {
        let mut segs: Vec<&str> = section.split('.').collect();
        if let Some(i) = instance {
            segs = vec!["providers", i];
        }
        segs.push(name);
        let path = segs.join(".");
        let Some(key) = keys::find(section, name) else {
            let known: Vec<&str> = keys::of(section).map(|k| k.name).collect();
            self.problem(
                &path,
                v,
                &segs,
                "is not a setting concord knows".into(),
                format!("one of {}", known.join(", ")),
            );
            return;
        };
        let source = self.source_of(v, &segs, key);
        match parse(key.ty, v, self.relative_base(v)) {
            Ok(p) => {
                self.values.insert(path, (p, source));
            }
            Err(message) => self.problems.push(Problem {
                setting: path,
                source,
                message,
                expected: key.ty.expected(),
            }),
        }
    }

    /// Paths in the file resolve against its folder; others against the working folder.
    fn relative_base(&self, v: &Value) -> Option<PathBuf> {
        let meta = self.figment.get_metadata(v.tag())?;
        match &meta.source {
            Some(figment::Source::File(p)) => p.parent().map(Path::to_path_buf),
            _ => None,
        }
    }

    fn source_of(&self, v: &Value, segs: &[&str], key: &Key) -> String {
        match self.figment.get_metadata(v.tag()) {
            Some(m) if m.name == ENV_LAYER => match key.var {
                Some(var) => format!("environment variable {}", var.name),
                None => "environment".into(),
            },
            Some(Metadata {
                source: Some(figment::Source::File(p)),
                ..
            }) => self.at(p, segs),
            Some(_) => "override".into(),
            None => "default".into(),
        }
    }

    fn at(&self, file: &Path, segs: &[&str]) -> String {
        match self.text.as_ref().and_then(|t| t.line_of(segs)) {
            Some(line) => format!("{}:{line}", file.display()),
            None => file.display().to_string(),
        }
    }

    fn problem(
        &mut self,
        setting: &str,
        v: &Value,
        segs: &[&str],
        message: String,
        expected: String,
    ) {
        let source = match self.figment.get_metadata(v.tag()) {
            Some(Metadata {
                source: Some(figment::Source::File(p)),
                ..
            }) => self.at(p, segs),
            Some(m) if m.name == ENV_LAYER => "environment".into(),
            Some(_) => "override".into(),
            None => "default".into(),
        };
        self.problems.push(Problem {
            setting: setting.to_owned(),
            source,
            message,
            expected,
        });
    }

    fn get(&self, path: &str) -> Option<&Parsed> {
        self.values.get(path).map(|(p, _)| p)
    }

    fn text(&self, path: &str) -> Option<String> {
        match self.get(path)? {
            Parsed::Text(s) => Some(s.clone()),
            _ => None,
        }
    }

    fn int(&self, path: &str) -> Option<i64> {
        match self.get(path)? {
            Parsed::Int(n) => Some(*n),
            _ => None,
        }
    }

    fn flag(&self, path: &str) -> Option<bool> {
        match self.get(path)? {
            Parsed::Bool(b) => Some(*b),
            _ => None,
        }
    }

    fn path(&self, path: &str) -> Option<PathBuf> {
        match self.get(path)? {
            Parsed::Path(p) => Some(p.clone()),
            _ => None,
        }
    }

    fn source(&self, path: &str) -> String {
        self.values
            .get(path)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| "default".into())
    }

    fn push(&mut self, setting: String, message: String, expected: String) {
        let source = self.source(&setting);
        let source = if source == "default" {
            // A rule about a missing key points at its section.
            let segs: Vec<&str> = setting.split('.').collect();
            match &self.src.file {
                Some(f) => self.at(f, &segs[..segs.len() - 1]),
                None => source,
            }
        } else {
            source
        };
        self.problems.push(Problem {
            setting,
            source,
            message,
            expected,
        });
    }

    fn finish(mut self, root: &Dict) -> Result<Settings, Error> {
        let providers = self.providers(root);
        let registry = self.registry();
        let runtimes = self.runtimes(&providers);
        let dispatcher = self.dispatcher();
        let log = self
            .text("telemetry.log")
            .or_else(|| concord::env::CONCORD_LOG.default.map(str::to_owned))
            .unwrap_or_else(|| "warn".into());
        if !self.problems.is_empty() {
            return Err(Error::Config(Problems(self.problems)));
        }
        let resolved = self.resolved();
        Ok(Settings {
            providers,
            dispatcher: dispatcher.unwrap_or_default(),
            registry,
            runtimes,
            log,
            file: self.src.file.clone(),
            resolved,
        })
    }

    fn providers(&mut self, root: &Dict) -> BTreeMap<String, ProviderSettings> {
        let mut out = BTreeMap::new();
        let Some(instances) = root.get("providers").and_then(Value::as_dict) else {
            return out;
        };
        for name in instances.keys() {
            let p = |k: &str| format!("providers.{name}.{k}");
            let origin = match &self.src.file {
                Some(f) => self.at(f, &["providers", name]),
                None => "override".into(),
            };
            let api = self.text(&p("api")).and_then(|a| Api::from_name(&a));
            let manifest = self.path(&p("manifest"));
            let kind = match self.text(&p("type")).as_deref() {
                Some("plugin") => match manifest {
                    Some(m) => {
                        if !m.is_file() {
                            self.push(
                                p("manifest"),
                                format!("{} is not a file", m.display()),
                                "the path of a plugin's manifest.json".into(),
                            );
                        }
                        Some(ProviderKind::Plugin(m))
                    }
                    None => {
                        self.push(
                            p("manifest"),
                            "is missing (a plugin instance starts from its manifest)".into(),
                            "the path of a plugin's manifest.json".into(),
                        );
                        None
                    }
                },
                Some(t) => {
                    let d = descriptor::get(t);
                    if let (Some(d), Some(api)) = (d, api) {
                        if !d.apis.contains(&api) {
                            let spoken: Vec<&str> = d.apis.iter().map(|a| a.name()).collect();
                            self.push(
                                p("api"),
                                format!("{t} does not speak the {} API", api.name()),
                                format!("one of {}", spoken.join(", ")),
                            );
                        }
                    }
                    if manifest.is_some() {
                        self.push(
                            p("manifest"),
                            format!("only a plugin has a manifest, and this is {t}"),
                            "type = \"plugin\", or no manifest".into(),
                        );
                    }
                    d.map(ProviderKind::Builtin)
                }
                None => None,
            };
            let Some(kind) = kind else { continue };
            let rate = match self.get(&p("rate")) {
                Some(Parsed::Rate(r, _)) => Some(*r),
                _ => None,
            };
            let temperature = match self.get(&p("temperature")) {
                Some(Parsed::Float(x)) => Some(*x),
                Some(Parsed::Int(n)) => Some(*n as f64),
                _ => None,
            };
            let credential = match self.get(&p("credential")) {
                Some(Parsed::Secret(s)) => Some(s.clone()),
                _ => None,
            };
            out.insert(
                name.clone(),
                ProviderSettings {
                    name: name.clone(),
                    kind,
                    api,
                    base_url: self.text(&p("base_url")),
                    credential,
                    model: self.text(&p("model")),
                    temperature,
                    max_tokens: self.int(&p("max_tokens")).map(|n| n as u32),
                    timeout: self.int(&p("timeout_secs")).map(secs),
                    api_version: self.text(&p("api_version")),
                    project: self.text(&p("project")),
                    location: self.text(&p("location")),
                    rate,
                    max_concurrent: self.int(&p("max_concurrent")).map(|n| n as usize),
                    enabled: self.flag(&p("enabled")).unwrap_or(true),
                    origin,
                },
            );
        }
        out
    }

    fn registry(&mut self) -> RegistrySettings {
        let d = RegistrySettings::default();
        let plugins_dir = self.path("registry.plugins_dir");
        if let Some(dir) = &plugins_dir {
            if !dir.is_dir() {
                self.push(
                    "registry.plugins_dir".into(),
                    format!("{} is not a folder", dir.display()),
                    "a folder of plugins, each with a manifest.json".into(),
                );
            }
        }
        let optional = |n: Option<i64>, default: Option<Duration>| match n {
            Some(0) => None,
            Some(n) => Some(secs(n)),
            None => default,
        };
        RegistrySettings {
            timeout: self.int("registry.timeout_secs").map_or(d.timeout, secs),
            plugins_dir,
            discover_env: self.flag("registry.discover_env").unwrap_or(d.discover_env),
            health_interval: optional(self.int("registry.health_interval_secs"), d.health_interval),
            health_timeout: self
                .int("registry.health_timeout_secs")
                .map_or(d.health_timeout, secs),
            shutdown_timeout: self
                .int("registry.shutdown_timeout_secs")
                .map_or(d.shutdown_timeout, secs),
            refresh: optional(self.int("registry.refresh_secs"), d.refresh),
        }
    }

    fn runtimes(&mut self, providers: &BTreeMap<String, ProviderSettings>) -> RuntimesSettings {
        let provider = self.text("runtimes.default_provider");
        let model = self.text("runtimes.default_model");
        let default_profile = match (provider, model) {
            (Some(p), Some(m)) => {
                if !providers.contains_key(&p) && descriptor::get(&p).is_none() {
                    self.push(
                        "runtimes.default_provider".into(),
                        format!("{p:?} is neither a [providers.*] section nor a shipped provider"),
                        "the name of a configured provider".into(),
                    );
                }
                Some((p, m))
            }
            (Some(_), None) => {
                self.push(
                    "runtimes.default_model".into(),
                    "is missing (a default profile needs a provider and a model)".into(),
                    "a model name".into(),
                );
                None
            }
            (None, Some(_)) => {
                self.push(
                    "runtimes.default_provider".into(),
                    "is missing (a default profile needs a provider and a model)".into(),
                    "the name of a configured provider".into(),
                );
                None
            }
            (None, None) => None,
        };
        RuntimesSettings {
            idle_ttl: self.int("runtimes.idle_ttl_secs").map(secs),
            max_users: self.int("runtimes.max_users").map(|n| n as u64),
            default_profile,
        }
    }

    /// `[dispatcher]` through the dispatcher's own reader, so file and variables mean the same.
    fn dispatcher(&mut self) -> Option<DispatchConfig> {
        let by_var: Map<&str, (String, String)> = keys::of("dispatcher")
            .filter_map(|k| {
                let path = k.path(None);
                let (v, _) = self.values.get(&path)?;
                Some((k.var?.name, (v.raw(), path)))
            })
            .collect();
        match DispatchConfig::from_lookup(|var| {
            by_var
                .get(var.name)
                .map(|(v, _)| v.clone())
                .or_else(|| var.default.map(str::to_owned))
        }) {
            Ok(c) => Some(c),
            Err(e) => {
                let setting = by_var
                    .get(e.setting)
                    .map(|(_, p)| p.clone())
                    .or_else(|| {
                        keys::of("dispatcher")
                            .find(|k| k.var.map(|v| v.name) == Some(e.setting))
                            .map(|k| k.path(None))
                    })
                    .unwrap_or_else(|| format!("dispatcher ({})", e.setting));
                self.push(setting, e.why, String::new());
                None
            }
        }
    }

    /// Every key with a value: set ones with their source, then concern defaults.
    fn resolved(&self) -> Vec<Resolved> {
        let mut out: Vec<Resolved> = self
            .values
            .iter()
            .map(|(setting, (p, source))| Resolved {
                setting: setting.clone(),
                value: p.render(),
                source: source.clone(),
            })
            .collect();
        for k in keys::KEYS.iter().filter(|k| k.section != keys::PROVIDER) {
            let path = k.path(None);
            if let (Some(d), false) = (k.default, self.values.contains_key(&path)) {
                let value = match k.ty {
                    Ty::Int { .. } | Ty::Number { .. } | Ty::Bool => d.to_owned(),
                    _ => format!("{d:?}"),
                };
                out.push(Resolved {
                    setting: path,
                    value,
                    source: "default".into(),
                });
            }
        }
        let order = |r: &Resolved| {
            let section = r.setting.rsplit_once('.').map_or("", |(s, _)| s).to_owned();
            let rank = if section.starts_with("providers.") {
                0
            } else {
                1 + CONCERNS
                    .iter()
                    .position(|c| *c == section)
                    .unwrap_or(CONCERNS.len())
            };
            (rank, section, r.setting.clone())
        };
        out.sort_by_key(order);
        out
    }
}

fn secs(n: i64) -> Duration {
    Duration::from_secs(n.max(0) as u64)
}

/// Checks one value against its kind. Error messages never show a credential's value.
fn parse(ty: Ty, v: &Value, base: Option<PathBuf>) -> Result<Parsed, String> {
    let shown = || match v {
        Value::String(_, s) => format!("{s:?}"),
        Value::Num(_, n) => n.to_f64().map_or("a number".into(), |x| x.to_string()),
        Value::Bool(_, b) => b.to_string(),
        Value::Dict(..) => "a table".into(),
        Value::Array(..) => "a list".into(),
        _ => "this value".into(),
    };
    let bad = || format!("{} is not valid", shown());
    let s = match v {
        Value::String(_, s) => Some(s.trim().to_owned()),
        _ => None,
    };
    match ty {
        Ty::Str | Ty::Filter => s
            .filter(|s| !s.is_empty())
            .map(Parsed::Text)
            .ok_or_else(bad),
        Ty::Url => match s {
            Some(u) if url_ok(&u) => Ok(Parsed::Text(u)),
            _ => Err(bad()),
        },
        Ty::Int { min } => {
            let n = match v {
                Value::Num(_, n) => n.to_i128(),
                _ => s.and_then(|s| s.parse::<i128>().ok()),
            };
            match n {
                Some(n) if n >= i128::from(min) && n <= i128::from(i64::MAX) => {
                    Ok(Parsed::Int(n as i64))
                }
                _ => Err(bad()),
            }
        }
        Ty::Number { min, max } => {
            let x = match v {
                Value::Num(_, n) => n.to_f64(),
                _ => s.and_then(|s| s.parse::<f64>().ok()),
            };
            match x {
                Some(x) if (min..=max).contains(&x) => Ok(Parsed::Float(x)),
                _ => Err(bad()),
            }
        }
        Ty::Bool => match (v, s.as_deref()) {
            (Value::Bool(_, b), _) => Ok(Parsed::Bool(*b)),
            (_, Some("true")) => Ok(Parsed::Bool(true)),
            (_, Some("false")) => Ok(Parsed::Bool(false)),
            _ => Err(bad()),
        },
        Ty::Rate => {
            let s = s.ok_or_else(bad)?;
            concord_dispatch::settings::rate(&s)
                .map(|r| Parsed::Rate(r, s.clone()))
                .map_err(|_| bad())
        }
        Ty::ProviderType => match s {
            Some(t) if t == "plugin" || descriptor::get(&t).is_some() => Ok(Parsed::Text(t)),
            _ => Err(bad()),
        },
        Ty::Api => match s {
            Some(a) if Api::from_name(&a).is_some() => Ok(Parsed::Text(a)),
            _ => Err(bad()),
        },
        Ty::Path => {
            let p = PathBuf::from(s.filter(|s| !s.is_empty()).ok_or_else(bad)?);
            Ok(Parsed::Path(match base {
                Some(b) if p.is_relative() => b.join(p),
                _ => p,
            }))
        }
        Ty::Credential => {
            let Some(d) = v.as_dict() else {
                // Never echo it: it may be the key itself.
                return Err(
                    "a secret is written in the file; reference it instead (the value is not shown)"
                        .into(),
                );
            };
            let one = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_owned);
            match (one("env"), one("file"), d.len()) {
                (Some(var), None, 1) if !var.is_empty() => Ok(Parsed::Secret(SecretRef::Env(var))),
                (None, Some(f), 1) if !f.is_empty() => {
                    let p = PathBuf::from(f);
                    Ok(Parsed::Secret(SecretRef::File(match base {
                        Some(b) if p.is_relative() => b.join(p),
                        _ => p,
                    })))
                }
                _ => Err("is neither { env = \"…\" } nor { file = \"…\" }".into()),
            }
        }
    }
}

fn url_ok(u: &str) -> bool {
    reqwest::Url::parse(u)
        .map(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .unwrap_or(false)
}

/// The environment as a figment layer: each concern key whose variable is set.
struct EnvLayer {
    dict: Dict,
}

impl EnvLayer {
    fn new(src: &Sources<'_>) -> Self {
        let mut dict = Dict::new();
        for k in keys::KEYS {
            let Some(var) = k.var else { continue };
            let Some(value) = (src.env)(var.name).filter(|v| !v.trim().is_empty()) else {
                continue;
            };
            let section = dict
                .entry(k.section.to_owned())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, d) = section {
                d.insert(k.name.to_owned(), Value::from(value));
            }
        }
        Self { dict }
    }
}

impl figment::Provider for EnvLayer {
    fn metadata(&self) -> Metadata {
        Metadata::named(ENV_LAYER)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

#[cfg(test)]
mod tests;
