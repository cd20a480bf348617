//! `[server]`: where `concord serve` listens and what it accepts. Added to the program's
//! configuration as one more section ([`sections`]), the way every crate extends it.

use concord_settings::schemars::{self, JsonSchema};
use concord_settings::{Issues, SecretRef, Section, SectionInfo};
use serde::{Deserialize, Serialize};

/// `[server]`, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSection {
    /// The address `concord serve` listens on. Loopback by default: put a TLS-terminating
    /// proxy in front before listening on another interface.
    #[schemars(
        extend(
            "x-env" = "CONCORD_LISTEN",
            "x-type" = "address",
            "x-expected" = "host:port, like 127.0.0.1:8080"
        ),
        example = &"127.0.0.1:8080"
    )]
    pub listen: String,
    /// The largest request body accepted, in bytes; a larger one is answered 413.
    #[schemars(range(min = 1024), example = 16_777_216)]
    pub body_limit: u64,
    /// What a model falls back to: `"provider/model" = ["provider/model", …]`, tried in turn
    /// when it fails before answering in a way another vendor might not (its breaker open, a
    /// 5xx, a 429, a timeout, a stream that fails before its first event). A failure the caller
    /// caused (a bad request) is not sent elsewhere. Each attempt is recorded and priced as its
    /// own call; `x-concord-provider` names the one that answered.
    #[schemars(
        extend("x-type" = "table of provider/model lists"),
        example = fallbacks_example()
    )]
    pub fallbacks: std::collections::BTreeMap<String, Vec<String>>,
    /// The admin key: who holds it may use the admin pages and API under `/admin` (models,
    /// providers, tenants, spend; docs/admin.md). A reference, never the key: unset or empty,
    /// the admin pages are off. `concord serve --mock-providers` makes one when it is unset.
    #[schemars(example = SecretRef::Env("CONCORD_ADMIN_KEY".into()))]
    pub admin_key: Option<SecretRef>,
}

fn fallbacks_example() -> std::collections::BTreeMap<String, Vec<String>> {
    [(
        "openai/gpt-4o".to_owned(),
        vec!["anthropic/claude-sonnet-4-5".to_owned()],
    )]
    .into()
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            body_limit: 16 * 1024 * 1024,
            fallbacks: std::collections::BTreeMap::new(),
            admin_key: Some(SecretRef::Env("CONCORD_ADMIN_KEY".into())),
        }
    }
}

impl Section for ServerSection {
    const PATH: &'static str = "server";
    const ABOUT: &'static str = "Where `concord serve` listens and what it accepts.";

    fn validate(&self, issues: &mut Issues) {
        let named = |m: &str| {
            m.split_once('/')
                .is_some_and(|(p, id)| !p.is_empty() && !id.is_empty())
        };
        for (model, targets) in &self.fallbacks {
            if !named(model) {
                issues.push(
                    "fallbacks",
                    format!("{model:?} is not provider/model"),
                    "keys like \"openai/gpt-4o\"",
                );
            }
            if let Some(t) = targets.iter().find(|t| !named(t)) {
                issues.push(
                    "fallbacks",
                    format!("{t:?} (a fallback of {model}) is not provider/model"),
                    "lists like [\"anthropic/claude-sonnet-4-5\"]",
                );
            }
        }
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            issues.push(
                "listen",
                format!("{:?} is not an address to listen on", self.listen),
                "host:port with an IP address, like 127.0.0.1:8080 or 0.0.0.0:8080",
            );
        }
    }
}

/// `[redis]`: state several instances share at request rate (docs/scale-out.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSection {
    /// The Redis server instances share tenants' rate limits through, and tell each other of
    /// edits by: `redis://host:6379/0` (its password in `password`, never in the URL). Unset:
    /// everything stays in this process, as with one instance.
    #[schemars(extend("x-env" = "CONCORD_REDIS_URL", "x-type" = "url"))]
    pub url: Option<String>,
    /// Where the Redis password comes from: `{ env = "VAR" }` or `{ file = "path" }`.
    pub password: Option<SecretRef>,
    /// How often an instance says it is alive and checks Redis, in milliseconds: the bound on
    /// how long a Redis outage or recovery takes to be noticed. An instance not heard from in
    /// five of these is no longer counted.
    #[schemars(range(min = 50), example = 1000)]
    pub heartbeat_ms: u64,
    /// The longest a Redis command may take, in milliseconds, before this instance stops
    /// waiting and uses its local share of each limit.
    #[schemars(range(min = 1), example = 250)]
    pub timeout_ms: u64,
    /// How long a provider's call permit or a budget's reservation outlives the instance
    /// holding it, in milliseconds: a live instance renews its leases every heartbeat; one that
    /// dies without releasing them gives them back after this long.
    #[schemars(range(min = 100), example = 10000)]
    pub lease_ms: u64,
    /// The longest a call waits for a provider's shared rate, tokens or a free call permit, in
    /// milliseconds, before it is refused with `rate_limited` and when to retry.
    #[schemars(range(min = 0), example = 30000)]
    pub queue_timeout_ms: u64,
}

impl Default for RedisSection {
    fn default() -> Self {
        Self {
            url: None,
            password: None,
            heartbeat_ms: 1000,
            timeout_ms: 250,
            lease_ms: 10_000,
            queue_timeout_ms: 30_000,
        }
    }
}

impl Section for RedisSection {
    const PATH: &'static str = "redis";
    const ABOUT: &'static str = "Redis, for several instances of `concord serve`: tenants' \
        and providers' limits shared across them, and edits seen by all at once.";

    fn validate(&self, issues: &mut Issues) {
        if let Some(url) = &self.url {
            let scheme = url.split("://").next().unwrap_or_default();
            if !matches!(scheme, "redis" | "rediss") {
                issues.push(
                    "url",
                    format!("the scheme `{scheme}` is not Redis"),
                    "redis://host:6379/0",
                );
            }
            if url
                .split("://")
                .nth(1)
                .is_some_and(|rest| rest.split('/').next().unwrap_or("").contains('@'))
            {
                issues.push(
                    "url",
                    "the URL carries credentials",
                    "put the password in `password = { env = \"…\" }`, not in the URL",
                );
            }
        }
        if self.heartbeat_ms < 50 {
            issues.push(
                "heartbeat_ms",
                format!("{} is too often", self.heartbeat_ms),
                "50 or more",
            );
        }
    }
}

/// The sections `concord serve` and the rest of the `concord` program read: the registry's
/// ([`concord_registry::settings::sections`]) and `[server]`.
pub fn sections() -> Vec<SectionInfo> {
    let mut all = concord_registry::settings::sections();
    all.push(SectionInfo::of::<ServerSection>());
    all.push(SectionInfo::of::<RedisSection>());
    all
}
