//! Every setting of the configuration file, in one table: its place (`dispatcher.retries`), the
//! kind of value, its default, the environment variable that also sets it, what it does and an
//! example. The loader checks values against it, `docs/configuration.md` and
//! `concord.example.toml` are generated from it, and the variables of the concerns live here and
//! in `concord-dispatch` (`settings::VARS`), nowhere else.

use concord::env::EnvVar;
use concord_dispatch::settings as dispatch;

/// The kind of value a key takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ty {
    /// Any string.
    Str,
    /// An `http`/`https` URL.
    Url,
    /// A whole number at least `min`.
    Int {
        /// The smallest accepted value.
        min: i64,
    },
    /// A number in `min..=max`.
    Number {
        /// The smallest.
        min: f64,
        /// The largest.
        max: f64,
    },
    /// `true` or `false`.
    Bool,
    /// A rate, `500/min`, `10/s`, `1000/h`.
    Rate,
    /// A row of the descriptor table, or `plugin`.
    ProviderType,
    /// An API name (`chat`, `responses`, `messages`, `generate-content`).
    Api,
    /// A reference to a secret: `{ env = "VAR" }` or `{ file = "path" }`, never the secret.
    Credential,
    /// A file or folder path (relative to the config file's folder).
    Path,
    /// A `tracing` filter (`warn`, `concord=debug`).
    Filter,
}

impl Ty {
    /// What a valid value looks like, for errors and docs.
    pub fn expected(self) -> String {
        match self {
            Ty::Str => "a string".into(),
            Ty::Url => "an http(s) URL like \"https://api.openai.com/v1\"".into(),
            Ty::Int { min } => format!("a whole number ≥ {min}"),
            Ty::Number { min, max } => format!("a number from {min} to {max}"),
            Ty::Bool => "true or false".into(),
            Ty::Rate => "a rate like \"500/min\", \"10/s\" or \"1000/h\"".into(),
            Ty::ProviderType => format!(
                "one of {}, plugin",
                concord::descriptor::names().collect::<Vec<_>>().join(", ")
            ),
            Ty::Api => format!(
                "one of {}",
                concord::descriptor::Api::ALL
                    .iter()
                    .map(|a| a.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Ty::Credential => {
                "a reference: { env = \"VARIABLE\" } or { file = \"path/to/key\" }".into()
            }
            Ty::Path => "a path (relative to the config file)".into(),
            Ty::Filter => "a tracing filter like \"warn\" or \"concord=debug\"".into(),
        }
    }

    /// The column of the docs' table.
    pub fn name(self) -> &'static str {
        match self {
            Ty::Str => "string",
            Ty::Url => "url",
            Ty::Int { .. } => "integer",
            Ty::Number { .. } => "number",
            Ty::Bool => "bool",
            Ty::Rate => "rate",
            Ty::ProviderType => "provider type",
            Ty::Api => "api",
            Ty::Credential => "secret reference",
            Ty::Path => "path",
            Ty::Filter => "filter",
        }
    }
}

/// One key of the file.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// The section: `providers.<name>`, `dispatcher`, `registry`, `runtimes`, `telemetry`.
    pub section: &'static str,
    /// The key in its section.
    pub name: &'static str,
    /// The kind of value.
    pub ty: Ty,
    /// The value used when no source sets it.
    pub default: Option<&'static str>,
    /// The environment variable that sets it too (and wins over the file).
    pub var: Option<EnvVar>,
    /// What it does.
    pub about: &'static str,
    /// A TOML value for `concord.example.toml` (keys without one are shown commented out).
    pub example: Option<&'static str>,
}

/// The section every provider instance has, `[providers.<name>]`.
pub const PROVIDER: &str = "providers.<name>";

/// The sections of concerns, in file order.
pub const CONCERNS: [&str; 4] = ["dispatcher", "registry", "runtimes", "telemetry"];

const fn key(
    section: &'static str,
    name: &'static str,
    ty: Ty,
    default: Option<&'static str>,
    about: &'static str,
) -> Key {
    Key {
        section,
        name,
        ty,
        default,
        var: None,
        about,
        example: None,
    }
}

const fn env(mut k: Key, var: EnvVar) -> Key {
    k.var = Some(var);
    if k.default.is_none() {
        k.default = var.default;
    }
    k
}

const fn eg(mut k: Key, example: &'static str) -> Key {
    k.example = Some(example);
    k
}

const fn var(
    name: &'static str,
    ty: &'static str,
    default: Option<&'static str>,
    about: &'static str,
) -> EnvVar {
    EnvVar::new(name, ty, default, "Registry", about)
}

/// The config file's path (`concord providers`, `concord chat --config` read it when no `--config` is given).
pub const CONCORD_CONFIG: EnvVar = var(
    "CONCORD_CONFIG",
    "path",
    None,
    "The configuration file read when `--config` is not given (see `concord.example.toml`).",
);
/// Where plugin manifests are discovered.
pub const CONCORD_PLUGINS_DIR: EnvVar = var(
    "CONCORD_PLUGINS_DIR",
    "path",
    None,
    "A folder whose `*/manifest.json` plugins are registered (`registry.plugins_dir`).",
);
/// Active health checks.
pub const CONCORD_HEALTH_INTERVAL_SECS: EnvVar = var("CONCORD_HEALTH_INTERVAL_SECS", "integer", Some("30"), "Seconds between active health checks of each provider; 0 turns them off (`registry.health_interval_secs`).");
/// The shutdown bound.
pub const CONCORD_SHUTDOWN_TIMEOUT_SECS: EnvVar = var("CONCORD_SHUTDOWN_TIMEOUT_SECS", "integer", Some("30"), "Seconds a graceful shutdown lets calls in flight finish before cancelling them (`registry.shutdown_timeout_secs`).");
/// Whether providers come from the environment.
pub const CONCORD_DISCOVER_ENV: EnvVar = var("CONCORD_DISCOVER_ENV", "bool", Some("true"), "Whether every shipped provider whose key variable is set is registered (`registry.discover_env`).");
/// Idle eviction of user runtimes.
pub const CONCORD_RUNTIMES_IDLE_TTL_SECS: EnvVar = var(
    "CONCORD_RUNTIMES_IDLE_TTL_SECS",
    "integer",
    Some("86400"),
    "Seconds a user's runtime may go unused before it is evicted (`runtimes.idle_ttl_secs`).",
);
/// The cap on user runtimes.
pub const CONCORD_RUNTIMES_MAX_USERS: EnvVar = var(
    "CONCORD_RUNTIMES_MAX_USERS",
    "integer",
    Some("100000"),
    "The most user runtimes kept; past it the least recently used go first (`runtimes.max_users`).",
);

/// The variables this crate adds to the registry, in documentation order.
pub static VARS: &[EnvVar] = &[
    CONCORD_CONFIG,
    CONCORD_PLUGINS_DIR,
    CONCORD_HEALTH_INTERVAL_SECS,
    CONCORD_SHUTDOWN_TIMEOUT_SECS,
    CONCORD_DISCOVER_ENV,
    CONCORD_RUNTIMES_IDLE_TTL_SECS,
    CONCORD_RUNTIMES_MAX_USERS,
];

const INT0: Ty = Ty::Int { min: 0 };
const INT1: Ty = Ty::Int { min: 1 };

/// Every key, in file order.
pub static KEYS: &[Key] = &[
    eg(key(PROVIDER, "type", Ty::ProviderType, None, "Which shipped provider this instance is (a row of the descriptor table), or `plugin`. Required."), "\"openai\""),
    key(PROVIDER, "api", Ty::Api, None, "Which of its APIs it speaks (default: the provider's first)."),
    eg(key(PROVIDER, "base_url", Ty::Url, None, "The vendor base URL (default: the provider's `*_BASE_URL` variable, then the vendor's public URL)."), "\"https://api.openai.com/v1\""),
    eg(key(PROVIDER, "credential", Ty::Credential, None, "Where its key comes from: `{ env = \"VAR\" }` or `{ file = \"path\" }`; a key is never written in the file (default: the provider's key variable)."), "{ env = \"OPENAI_API_KEY\" }"),
    eg(key(PROVIDER, "model", Ty::Str, None, "The default model of its calls."), "\"gpt-4o-mini\""),
    key(PROVIDER, "temperature", Ty::Number { min: 0.0, max: 2.0 }, None, "The default temperature of its calls."),
    key(PROVIDER, "max_tokens", INT1, None, "The default output-token limit of its calls."),
    eg(key(PROVIDER, "timeout_secs", INT1, None, "Seconds a call waits for the vendor (default: `registry.timeout_secs`)."), "60"),
    key(PROVIDER, "api_version", Ty::Str, None, "Azure OpenAI: an api-version for the classic deployment API."),
    key(PROVIDER, "project", Ty::Str, None, "Vertex AI: the Google Cloud project."),
    key(PROVIDER, "location", Ty::Str, None, "Vertex AI: the location (`global`, `us-central1`)."),
    key(PROVIDER, "manifest", Ty::Path, None, "For `type = \"plugin\"`: the plugin's `manifest.json`."),
    key(PROVIDER, "rate", Ty::Rate, None, "Its own request rate (default: `dispatcher.rate`)."),
    key(PROVIDER, "max_concurrent", INT1, None, "Its own cap on calls in flight (default: `dispatcher.max_concurrent`)."),
    eg(key(PROVIDER, "enabled", Ty::Bool, Some("true"), "`false` keeps the section without registering it."), "true"),
    env(key("dispatcher", "rate", Ty::Rate, None, "Requests per provider."), dispatch::RATE),
    env(key("dispatcher", "tokens_per_minute", INT1, None, "Tokens per minute per provider."), dispatch::TOKENS_PER_MINUTE),
    env(key("dispatcher", "max_concurrent", INT1, None, "Calls in flight per provider."), dispatch::MAX_CONCURRENT),
    env(key("dispatcher", "max_queue", INT0, None, "Calls that may wait for the limits."), dispatch::MAX_QUEUE),
    env(key("dispatcher", "queue_timeout_ms", INT1, None, "The longest wait for the limits, in milliseconds."), dispatch::QUEUE_TIMEOUT_MS),
    eg(env(key("dispatcher", "retries", INT0, None, "Retries of a retryable failure."), dispatch::RETRIES), "2"),
    eg(env(key("dispatcher", "breaker", Ty::Bool, None, "Whether a circuit breaker takes a failing provider out of rotation."), dispatch::BREAKER), "true"),
    env(key("dispatcher", "breaker_failure_ratio", Ty::Number { min: 0.0, max: 1.0 }, None, "The share of failed calls that opens the breaker."), dispatch::BREAKER_FAILURE_RATIO),
    env(key("dispatcher", "breaker_min_calls", INT1, None, "Calls in the window before the ratio counts."), dispatch::BREAKER_MIN_CALLS),
    env(key("dispatcher", "breaker_cooldown_ms", INT1, None, "How long an open breaker waits before a probe, in milliseconds."), dispatch::BREAKER_COOLDOWN_MS),
    env(key("dispatcher", "stream_recovery", Ty::Bool, None, "Whether a cut stream is resumed by prefill where the provider can."), dispatch::STREAM_RECOVERY),
    env(key("registry", "timeout_secs", INT1, None, "Seconds a call waits for the vendor when its provider's section sets none."), concord::env::CONCORD_TIMEOUT_SECS),
    eg(env(key("registry", "plugins_dir", Ty::Path, None, "A folder whose `*/manifest.json` plugins are registered."), CONCORD_PLUGINS_DIR), "\"plugins\""),
    eg(env(key("registry", "discover_env", Ty::Bool, None, "Whether every shipped provider whose key variable is set is registered."), CONCORD_DISCOVER_ENV), "true"),
    eg(env(key("registry", "health_interval_secs", INT0, None, "Seconds between active health checks; 0 turns them off."), CONCORD_HEALTH_INTERVAL_SECS), "30"),
    key("registry", "health_timeout_secs", INT1, Some("5"), "Seconds a health check may take before it counts as failed."),
    eg(env(key("registry", "shutdown_timeout_secs", INT0, None, "Seconds a graceful shutdown lets calls in flight finish."), CONCORD_SHUTDOWN_TIMEOUT_SECS), "30"),
    key("registry", "refresh_secs", INT0, Some("0"), "Seconds between re-reads of this file (providers added, changed, removed without a restart); 0 turns it off."),
    eg(env(key("runtimes", "idle_ttl_secs", INT1, None, "Seconds a user's runtime may go unused before it is evicted."), CONCORD_RUNTIMES_IDLE_TTL_SECS), "86400"),
    env(key("runtimes", "max_users", INT1, None, "The most user runtimes kept."), CONCORD_RUNTIMES_MAX_USERS),
    key("runtimes", "default_provider", Ty::Str, None, "The provider of the default profile a new user may be given (only when asked for; there is no implicit fallback)."),
    key("runtimes", "default_model", Ty::Str, None, "The model of the default profile."),
    eg(env(key("telemetry", "log", Ty::Filter, None, "The log filter."), concord::env::CONCORD_LOG), "\"warn\""),
];

/// The key `name` of `section` (`providers.<name>` for any provider instance).
pub fn find(section: &str, name: &str) -> Option<&'static Key> {
    let section = if section.starts_with("providers.") {
        PROVIDER
    } else {
        section
    };
    KEYS.iter().find(|k| k.section == section && k.name == name)
}

/// The keys of `section`.
pub fn of(section: &'static str) -> impl Iterator<Item = &'static Key> {
    KEYS.iter().filter(move |k| k.section == section)
}

impl Key {
    /// `section.name`, with `<name>` replaced by `instance` for a provider key.
    pub fn path(&self, instance: Option<&str>) -> String {
        match instance {
            Some(i) if self.section == PROVIDER => format!("providers.{i}.{}", self.name),
            _ => format!("{}.{}", self.section, self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dispatcher_variable_has_its_key_and_keeps_its_name() {
        for v in dispatch::VARS {
            let k = of("dispatcher").find(|k| k.var == Some(*v));
            let k = k.unwrap_or_else(|| panic!("{} has no key in [dispatcher]", v.name));
            assert_eq!(
                format!("CONCORD_DISPATCH_{}", k.name.to_uppercase()),
                v.name,
                "a key is its variable's name without the prefix"
            );
        }
    }

    #[test]
    fn keys_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for k in KEYS {
            assert!(
                seen.insert((k.section, k.name)),
                "{}.{} twice",
                k.section,
                k.name
            );
        }
    }
}
