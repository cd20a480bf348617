//! Settings: the sections this crate owns — `[providers.<name>]` (`providers.rs`),
//! `[registry]` (`registry.rs`), `[runtimes]` (`runtimes.rs`), `[telemetry]` (`telemetry.rs`)
//! — with the dispatcher's `[dispatcher]` and the model database's `[database]`, loaded by `concord-settings` (defaults < file <
//! environment < overrides, every problem at once with its `file:line`, variable or override)
//! into the typed [`Settings`] the registry and the CLI use. Secrets are referenced, never
//! written in the file: `credential = { env = "AZURE_OPENAI_API_KEY" }` or
//! `{ file = "/run/secrets/key" }`.

pub mod docs;
mod providers;
mod registry;
mod runtimes;
mod telemetry;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use concord::descriptor::{self, Api, Descriptor};
use concord::env::EnvVar;
use concord_dispatch::{DispatchConfig, DispatcherSection};
use concord_settings::{Config, Problem, Problems, SectionInfo};

pub use concord_settings::{Resolved, SecretRef, Sources};
pub use providers::{ProviderSection, ProvidersSection};
pub use registry::{RegistrySection, RegistrySettings};
pub use runtimes::RuntimesSection;
pub use telemetry::TelemetrySection;

use crate::error::Error;

/// The configuration file's path (`concord providers`, `concord chat --config` read it when no
/// `--config` is given).
pub const CONCORD_CONFIG: EnvVar = EnvVar::new(
    "CONCORD_CONFIG",
    "path",
    None,
    "Registry",
    "The configuration file read when `--config` is not given (see `concord.example.toml`).",
);

/// The sections a program using the registry reads, in file order.
pub fn sections() -> Vec<SectionInfo> {
    vec![
        SectionInfo::of::<ProvidersSection>(),
        SectionInfo::of::<DispatcherSection>(),
        SectionInfo::of::<RegistrySection>(),
        SectionInfo::of::<RuntimesSection>(),
        SectionInfo::of::<TelemetrySection>(),
        SectionInfo::of::<concord_models::DatabaseSection>(),
    ]
}

/// What a provider instance is.
#[derive(Debug, Clone)]
pub enum ProviderKind {
    /// A shipped provider (a row of the descriptor table).
    Builtin(&'static Descriptor),
    /// A plugin process, started from its manifest.
    Plugin(PathBuf),
}

impl PartialEq for ProviderKind {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Builtin(a), Self::Builtin(b)) => a.name == b.name,
            (Self::Plugin(a), Self::Plugin(b)) => a == b,
            _ => false,
        }
    }
}

/// One `[providers.<name>]` section, resolved: its kind, its paths against the file's folder,
/// its dispatcher settings over `[dispatcher]`.
#[derive(Debug, Clone, PartialEq)]
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
    /// Its own dispatcher settings (`[providers.<name>.dispatcher]` over `[dispatcher]`), when
    /// it has a table of them.
    pub dispatch: Option<DispatchConfig>,
    /// Whether it is registered.
    pub enabled: bool,
    /// Where the section is (`concord.toml:12`): not part of what it builds.
    pub origin: String,
}

impl ProviderSettings {
    /// Whether `other` builds the same provider (where the section sits aside).
    pub fn same_as(&self, other: &ProviderSettings) -> bool {
        Self {
            origin: String::new(),
            ..self.clone()
        } == Self {
            origin: String::new(),
            ..other.clone()
        }
    }
}

/// The whole configuration, checked and typed.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Provider instances by name, in name order.
    pub providers: BTreeMap<String, ProviderSettings>,
    /// The dispatcher's layers.
    pub dispatcher: DispatchConfig,
    /// The registry's behaviour.
    pub registry: RegistrySettings,
    /// The runtimes store (`.config()` is its configuration).
    pub runtimes: RuntimesSection,
    /// The log filter.
    pub log: String,
    /// Where the model database lives (`.open(env)` opens it).
    pub database: concord_models::DatabaseSection,
    /// What was loaded: every value with its source, notices.
    pub config: Config,
}

/// Loads and checks the configuration: `Err(Error::Config)` lists every problem found.
pub fn load(src: &Sources<'_>) -> Result<Settings, Error> {
    load_with(src, &sections())
}

/// [`load`] for a program that reads more sections than the registry's (`sections` includes
/// [`sections()`]); the typed values of the others are in `Settings::config`
/// (`config.get::<TheirSection>()`).
pub fn load_with(src: &Sources<'_>, sections: &[SectionInfo]) -> Result<Settings, Error> {
    let config = Config::load(src, sections).map_err(Error::Config)?;
    Settings::from_config(config)
}

impl Settings {
    /// The settings when no file, variable or override sets anything.
    pub fn defaults() -> Self {
        load(&Sources::none()).expect("the defaults are valid")
    }

    /// The typed settings of a checked configuration, with the checks only a loaded file can
    /// make: paths that must exist, and references between sections.
    pub fn from_config(config: Config) -> Result<Self, Error> {
        let mut problems = Vec::new();
        let mut problem = |path: &[&str], message: String, expected: &str| {
            let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
            problems.push(Problem {
                setting: path.join("."),
                source: config.source_of(&path),
                message,
                expected: expected.to_owned(),
            });
        };
        let global = config.get::<DispatcherSection>();
        let mut providers = BTreeMap::new();
        for (name, s) in config.get::<ProvidersSection>().0 {
            let at = |key: &'static str| ["providers", name.as_str(), key];
            let kind = match (s.kind.as_deref(), &s.manifest) {
                (Some("plugin"), Some(m)) => {
                    let m = config.path(&at("manifest"), m);
                    if !m.is_file() {
                        problem(
                            &at("manifest"),
                            format!("{} is not a file", m.display()),
                            "the path of a plugin's manifest.json",
                        );
                    }
                    ProviderKind::Plugin(m)
                }
                (Some(t), _) => match descriptor::get(t) {
                    Some(d) => ProviderKind::Builtin(d),
                    None => continue,
                },
                (None, _) => continue,
            };
            let credential = s.credential.map(|c| match c {
                SecretRef::File(p) => SecretRef::File(config.path(&at("credential"), &p)),
                env => env,
            });
            let dispatch = s.dispatcher.as_ref().map(|_| {
                config
                    .merged::<DispatcherSection>(&["dispatcher"], &at("dispatcher"))
                    .config()
            });
            let origin = config.source_of(&["providers".into(), name.clone()]);
            providers.insert(
                name.clone(),
                ProviderSettings {
                    name,
                    kind,
                    api: s.api.as_deref().and_then(Api::from_name),
                    base_url: s.base_url,
                    credential,
                    model: s.model,
                    temperature: s.temperature,
                    max_tokens: s.max_tokens,
                    timeout: s.timeout_secs.map(Duration::from_secs),
                    api_version: s.api_version,
                    project: s.project,
                    location: s.location,
                    dispatch,
                    enabled: s.enabled,
                    origin,
                },
            );
        }
        let mut registry = config.get::<RegistrySection>().settings();
        if let Some(dir) = &registry.plugins_dir {
            let dir = config.path(&["registry", "plugins_dir"], dir);
            if !dir.is_dir() {
                problem(
                    &["registry", "plugins_dir"],
                    format!("{} is not a folder", dir.display()),
                    "a folder of plugins, each with a manifest.json",
                );
            }
            registry.plugins_dir = Some(dir);
        }
        let runtimes = config.get::<RuntimesSection>();
        if let Some(p) = &runtimes.default_provider {
            if !providers.contains_key(p) && descriptor::get(p).is_none() {
                problem(
                    &["runtimes", "default_provider"],
                    format!("{p:?} is neither a [providers.*] section nor a shipped provider"),
                    "the name of a configured provider",
                );
            }
        }
        if !problems.is_empty() {
            problems.sort_by(|a, b| a.setting.cmp(&b.setting));
            return Err(Error::Config(Problems(problems)));
        }
        Ok(Settings {
            providers,
            dispatcher: global.config(),
            registry,
            runtimes,
            log: config.get::<TelemetrySection>().log,
            database: config.get::<concord_models::DatabaseSection>(),
            config,
        })
    }

    /// The resolved configuration as TOML, each value with its source; secrets show their
    /// reference only.
    pub fn render(&self) -> String {
        self.config.render()
    }

    /// Every value with its source.
    pub fn resolved(&self) -> Vec<Resolved> {
        self.config.resolved()
    }

    /// The file read, if any.
    pub fn file(&self) -> Option<&Path> {
        self.config.file()
    }

    /// The file's folder, against which relative paths in it resolve.
    pub fn base_dir(&self) -> &Path {
        self.config.base_dir()
    }
}

#[cfg(test)]
mod tests;
