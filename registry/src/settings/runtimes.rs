//! `[runtimes]`: the store of per-user runtime contexts.

use std::time::Duration;

use concord_settings::schemars::{self, JsonSchema};
use concord_settings::{Issues, Section};
use serde::{Deserialize, Serialize};

/// `[runtimes]`, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimesSection {
    /// Seconds a user's runtime may go unused before it is evicted.
    #[schemars(
        extend("x-env" = "CONCORD_RUNTIMES_IDLE_TTL_SECS"),
        range(min = 1),
        example = 86400
    )]
    pub idle_ttl_secs: u64,
    /// The most user runtimes kept; past it the least recently used go first.
    #[schemars(extend("x-env" = "CONCORD_RUNTIMES_MAX_USERS"), range(min = 1))]
    pub max_users: u64,
    /// The provider of the default profile a new user may be given (only when asked for;
    /// there is no implicit fallback).
    pub default_provider: Option<String>,
    /// The model of the default profile.
    pub default_model: Option<String>,
}

impl Default for RuntimesSection {
    fn default() -> Self {
        let c = crate::RuntimesConfig::default();
        Self {
            idle_ttl_secs: c.idle_ttl.as_secs(),
            max_users: c.max_users,
            default_provider: None,
            default_model: None,
        }
    }
}

impl Section for RuntimesSection {
    const PATH: &'static str = "runtimes";
    const ABOUT: &'static str = "The store of per-user runtime contexts: idle eviction, its cap, \
        and the default profile a new user may be given.";

    fn validate(&self, issues: &mut Issues) {
        let need = "is missing (a default profile needs a provider and a model)";
        match (&self.default_provider, &self.default_model) {
            (Some(_), None) => issues.push("default_model", need, "a model name"),
            (None, Some(_)) => issues.push(
                "default_provider",
                need,
                "the name of a configured provider",
            ),
            _ => {}
        }
    }
}

impl RuntimesSection {
    /// The store's configuration.
    pub fn config(&self) -> crate::RuntimesConfig {
        crate::RuntimesConfig {
            idle_ttl: Duration::from_secs(self.idle_ttl_secs),
            max_users: self.max_users,
            default_profile: match (&self.default_provider, &self.default_model) {
                (Some(p), Some(m)) => Some(crate::UserRuntime::new(p.clone(), m.clone())),
                _ => None,
            },
            ..crate::RuntimesConfig::default()
        }
    }
}
