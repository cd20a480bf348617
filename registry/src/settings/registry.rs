//! `[registry]`: how the registry finds providers, checks their health and shuts down.

use std::path::PathBuf;
use std::time::Duration;

use concord_settings::schemars::{self, JsonSchema};
use concord_settings::Section;
use serde::{Deserialize, Serialize};

/// `[registry]`, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrySection {
    /// Seconds a call waits for the vendor when its provider's section sets none.
    #[schemars(extend("x-env" = "CONCORD_TIMEOUT_SECS"), range(min = 1))]
    pub timeout_secs: u64,
    /// A folder whose `*/manifest.json` plugins are registered.
    #[schemars(
        extend("x-env" = "CONCORD_PLUGINS_DIR", "x-type" = "path"),
        example = &"plugins"
    )]
    pub plugins_dir: Option<PathBuf>,
    /// Whether every shipped provider whose key variable is set is registered.
    #[schemars(extend("x-env" = "CONCORD_DISCOVER_ENV"), example = true)]
    pub discover_env: bool,
    /// Seconds between active health checks of each provider; 0 turns them off.
    #[schemars(extend("x-env" = "CONCORD_HEALTH_INTERVAL_SECS"), example = 30)]
    pub health_interval_secs: u64,
    /// Seconds a health check may take before it counts as failed.
    #[schemars(range(min = 1))]
    pub health_timeout_secs: u64,
    /// Seconds a graceful shutdown lets calls in flight finish before cancelling them.
    #[schemars(extend("x-env" = "CONCORD_SHUTDOWN_TIMEOUT_SECS"), example = 30)]
    pub shutdown_timeout_secs: u64,
    /// Seconds between re-reads of this file (providers added, changed, removed without a
    /// restart); 0 turns it off.
    pub refresh_secs: u64,
}

impl Default for RegistrySection {
    fn default() -> Self {
        let d = RegistrySettings::default();
        let secs = |d: Option<Duration>| d.map_or(0, |d| d.as_secs());
        Self {
            timeout_secs: d.timeout.as_secs(),
            plugins_dir: None,
            discover_env: d.discover_env,
            health_interval_secs: secs(d.health_interval),
            health_timeout_secs: d.health_timeout.as_secs(),
            shutdown_timeout_secs: d.shutdown_timeout.as_secs(),
            refresh_secs: secs(d.refresh),
        }
    }
}

impl Section for RegistrySection {
    const PATH: &'static str = "registry";
    const ABOUT: &'static str = "How the registry discovers providers, checks their health, \
        re-reads this file and shuts down.";
}

/// The registry's behaviour, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrySettings {
    /// The call timeout of providers whose section sets none.
    pub timeout: Duration,
    /// Where plugin manifests are discovered (resolved against the file's folder).
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

impl RegistrySection {
    /// The settings these give (`plugins_dir` as given: the loader resolves it).
    pub fn settings(&self) -> RegistrySettings {
        let optional = |secs: u64| (secs > 0).then(|| Duration::from_secs(secs));
        RegistrySettings {
            timeout: Duration::from_secs(self.timeout_secs),
            plugins_dir: self.plugins_dir.clone(),
            discover_env: self.discover_env,
            health_interval: optional(self.health_interval_secs),
            health_timeout: Duration::from_secs(self.health_timeout_secs),
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout_secs),
            refresh: optional(self.refresh_secs),
        }
    }
}
