//! Settings: one nested configuration from many sources (issue 11, part 1).
//!
//! A TOML file with a section per provider instance (`[providers.<name>]`) and per concern
//! (`[dispatcher]`, `[registry]`, `[runtimes]`, `[telemetry]`), merged by `figment` in this
//! precedence, lowest first: **defaults < file < environment < overrides**. Every variable of
//! the registry keeps its name and meaning (`CONCORD_DISPATCH_RETRIES` is `dispatcher.retries`).
//! [`load`] checks every value against the key table ([`keys`]) and reports every problem at
//! once, each naming the setting, where its value came from (`file:line`, the variable, the
//! override) and what a valid value looks like. Secrets are referenced, never written in the
//! file: `credential = { env = "AZURE_OPENAI_API_KEY" }` or `{ file = "/run/secrets/key" }`.

pub mod docs;
pub mod keys;
mod load;
mod locate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use concord::descriptor::{Api, Descriptor};
use concord_dispatch::DispatchConfig;

pub use load::{load, Sources};

/// Where a secret comes from. Displaying it shows the reference, never the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// An environment variable.
    Env(String),
    /// A file holding the secret (surrounding whitespace ignored).
    File(PathBuf),
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(v) => write!(f, "{{ env = {v:?} }}"),
            SecretRef::File(p) => write!(f, "{{ file = {:?} }}", p.display().to_string()),
        }
    }
}

impl SecretRef {
    /// The secret, read now; `Err` says what is missing without showing anything secret.
    pub fn resolve(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
        match self {
            SecretRef::Env(var) => env(var)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| format!("the environment variable {var} is not set")),
            SecretRef::File(path) => match std::fs::read_to_string(path) {
                Ok(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
                Ok(_) => Err(format!("the secret file {} is empty", path.display())),
                Err(e) => Err(format!(
                    "cannot read the secret file {}: {e}",
                    path.display()
                )),
            },
        }
    }
}

/// What a provider instance is.
#[derive(Debug, Clone)]
pub enum ProviderKind {
    /// A shipped provider (a row of the descriptor table).
    Builtin(&'static Descriptor),
    /// A plugin process, started from its manifest.
    Plugin(PathBuf),
}

/// One `[providers.<name>]` section.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// The instance's name (the section's).
    pub name: String,
    /// What it is.
    pub kind: ProviderKind,
    /// Which API (the row's first when `None`).
    pub api: Option<Api>,
    /// Its base URL, when not the row's default.
    pub base_url: Option<String>,
    /// Where its key comes from, when not the row's key variable.
    pub credential: Option<SecretRef>,
    /// Its default model.
    pub model: Option<String>,
    /// Default temperature.
    pub temperature: Option<f64>,
    /// Default output-token limit.
    pub max_tokens: Option<u32>,
    /// Its call timeout.
    pub timeout: Option<Duration>,
    /// Azure's api-version.
    pub api_version: Option<String>,
    /// Vertex's project.
    pub project: Option<String>,
    /// Vertex's location.
    pub location: Option<String>,
    /// Its own request rate.
    pub rate: Option<concord_dispatch::Rate>,
    /// Its own cap on calls in flight.
    pub max_concurrent: Option<usize>,
    /// Whether it is registered.
    pub enabled: bool,
    /// Where the section is (`concord.toml:12`).
    pub origin: String,
}

/// `[registry]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrySettings {
    /// The call timeout of providers whose section sets none.
    pub timeout: Duration,
    /// Where plugin manifests are discovered.
    pub plugins_dir: Option<PathBuf>,
    /// Whether providers come from the environment.
    pub discover_env: bool,
    /// Active health checks (`None`: off).
    pub health_interval: Option<Duration>,
    /// A health check's bound.
    pub health_timeout: Duration,
    /// The graceful shutdown's bound.
    pub shutdown_timeout: Duration,
    /// Re-reading the file (`None`: off).
    pub refresh: Option<Duration>,
}

impl Default for RegistrySettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            plugins_dir: None,
            discover_env: true,
            health_interval: Some(Duration::from_secs(30)),
            health_timeout: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(30),
            refresh: None,
        }
    }
}

/// `[runtimes]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuntimesSettings {
    /// Idle eviction.
    pub idle_ttl: Option<Duration>,
    /// The cap.
    pub max_users: Option<u64>,
    /// The default profile's provider and model.
    pub default_profile: Option<(String, String)>,
}

impl RuntimesSettings {
    /// The store's configuration.
    pub fn config(&self) -> crate::RuntimesConfig {
        let mut c = crate::RuntimesConfig::default();
        if let Some(t) = self.idle_ttl {
            c.idle_ttl = t;
        }
        if let Some(m) = self.max_users {
            c.max_users = m;
        }
        c.default_profile = self
            .default_profile
            .as_ref()
            .map(|(p, m)| crate::UserRuntime::new(p.clone(), m.clone()));
        c
    }
}

/// One resolved value and where it came from, for `concord config check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The setting.
    pub setting: String,
    /// Its value as TOML (a secret shows its reference).
    pub value: String,
    /// Where it came from.
    pub source: String,
}

/// The whole configuration, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Provider instances by name, in name order.
    pub providers: BTreeMap<String, ProviderSettings>,
    /// The dispatcher's layers.
    pub dispatcher: DispatchConfig,
    /// The registry's behaviour.
    pub registry: RegistrySettings,
    /// The runtimes store.
    pub runtimes: RuntimesSettings,
    /// The log filter.
    pub log: String,
    /// The file read, if any.
    pub file: Option<PathBuf>,
    /// Every value that is set, with its source.
    pub resolved: Vec<Resolved>,
}

impl Settings {
    /// The settings when no file, variable or override sets anything.
    pub fn defaults() -> Self {
        load(&Sources::none()).expect("the defaults are valid")
    }

    /// The resolved configuration as TOML, each value with its source; secrets show their
    /// reference only.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut section = String::new();
        for r in &self.resolved {
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

    /// The file's folder, against which relative paths in it resolve.
    pub fn base_dir(&self) -> &Path {
        self.file
            .as_deref()
            .and_then(Path::parent)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    }
}
