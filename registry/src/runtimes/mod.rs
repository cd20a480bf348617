//! Per-user runtime contexts (seed 003): a store keyed by user or tenant id. There is no global
//! "current provider": user A choosing Gemini never changes what user B runs, and a user without
//! a runtime gets the configured default profile only when the caller asks for it explicitly.
//!
//! Built on `moka`: entries idle longer than the TTL are evicted, the number of users is capped
//! (memory stays bounded with any number of them), and an update of one user is atomic
//! (`and_compute_with`: two concurrent updates of one user never interleave; updates of different
//! users never wait on each other).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use concord::{Credential, Parameters, RuntimeContext};
use moka::notification::RemovalCause;
use moka::ops::compute::Op;
use tokio::sync::broadcast;

use crate::Error;

/// One user's runtime: what their calls run with.
#[derive(Clone, Debug)]
pub struct UserRuntime {
    /// The provider name (a descriptor row or a registered provider).
    pub provider: String,
    /// The model.
    pub model: String,
    /// Parameter defaults for their calls.
    pub settings: Parameters,
    /// Their credential (redacted in `Debug`), when they bring their own.
    pub credential: Option<Credential>,
    /// Their base URL, when not the provider's.
    pub base_url: Option<String>,
    /// Anything else the application keeps per user.
    pub data: BTreeMap<String, String>,
}

impl UserRuntime {
    /// A runtime for `provider` and `model`, everything else default.
    pub fn new(provider: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            provider: provider.into(),
            model: model.into(),
            settings: Parameters::default(),
            credential: None,
            base_url: None,
            data: BTreeMap::new(),
        }
    }
}

/// How the store behaves.
#[derive(Clone, Debug)]
pub struct RuntimesConfig {
    /// A runtime not used (read or written) for this long is evicted.
    pub idle_ttl: Duration,
    /// The most users kept; past it the least recently used are evicted first.
    pub max_users: u64,
    /// The profile a user gets from [`Runtimes::get_or_default`] (never implicitly).
    pub default_profile: Option<UserRuntime>,
}

impl Default for RuntimesConfig {
    fn default() -> Self {
        Self {
            idle_ttl: Duration::from_secs(24 * 3600),
            max_users: 100_000,
            default_profile: None,
        }
    }
}

/// A runtime that left the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evicted {
    /// Whose.
    pub user: String,
    /// Why: `idle` (past the TTL), `capacity` (the cap), `removed` (asked for).
    pub cause: &'static str,
}

/// The store.
pub struct Runtimes {
    cache: moka::sync::Cache<String, Arc<UserRuntime>>,
    default: Option<Arc<UserRuntime>>,
    events: broadcast::Sender<Evicted>,
}

impl Runtimes {
    /// An empty store.
    pub fn new(config: RuntimesConfig) -> Self {
        let (events, _) = broadcast::channel(1024);
        let sender = events.clone();
        let cache = moka::sync::Cache::builder()
            .max_capacity(config.max_users)
            .time_to_idle(config.idle_ttl)
            .eviction_listener(move |user: Arc<String>, _, cause| {
                let cause = match cause {
                    RemovalCause::Expired => "idle",
                    RemovalCause::Size => "capacity",
                    RemovalCause::Explicit => "removed",
                    // Replaced by a newer runtime of the same user: nothing left the store.
                    RemovalCause::Replaced => return,
                };
                let _ = sender.send(Evicted {
                    user: user.as_ref().clone(),
                    cause,
                });
            })
            .build();
        Self {
            cache,
            default: config.default_profile.map(Arc::new),
            events,
        }
    }

    /// The user's runtime, if they have one.
    pub fn get(&self, user: &str) -> Option<Arc<UserRuntime>> {
        self.cache.get(user)
    }

    /// The user's runtime, or a copy of the default profile made theirs.
    pub fn get_or_default(&self, user: &str) -> Result<Arc<UserRuntime>, Error> {
        if let Some(rt) = self.cache.get(user) {
            return Ok(rt);
        }
        let default = self
            .default
            .clone()
            .ok_or_else(|| Error::UnknownUser(user.to_owned()))?;
        Ok(self
            .cache
            .entry(user.to_owned())
            .or_insert_with(|| default)
            .into_value())
    }

    /// Sets the user's runtime.
    pub fn set(&self, user: &str, runtime: UserRuntime) {
        self.cache.insert(user.to_owned(), Arc::new(runtime));
    }

    /// Changes the user's runtime atomically: `change` sees the current one and returns the new
    /// one, or `Err` to leave it as it was. Two updates of one user run one after the other.
    pub fn update(
        &self,
        user: &str,
        change: impl FnOnce(&UserRuntime) -> Result<UserRuntime, String>,
    ) -> Result<Arc<UserRuntime>, Error> {
        let mut outcome: Result<Arc<UserRuntime>, Error> = Err(Error::UnknownUser(user.to_owned()));
        self.cache
            .entry(user.to_owned())
            .and_compute_with(|current| {
                let Some(current) = current else {
                    return Op::Nop;
                };
                match change(current.value()) {
                    Ok(next) => {
                        let next = Arc::new(next);
                        outcome = Ok(next.clone());
                        Op::Put(next)
                    }
                    Err(why) => {
                        outcome = Err(Error::Refused {
                            user: user.to_owned(),
                            why,
                        });
                        Op::Nop
                    }
                }
            });
        outcome
    }

    /// Forgets the user's runtime.
    pub fn remove(&self, user: &str) {
        self.cache.invalidate(user);
    }

    /// The context of a call for `user`: their provider's model, credential, base URL and
    /// parameters, the shared `client`, and the user as the call's tenant.
    pub fn context(&self, user: &str, client: &reqwest::Client) -> Result<RuntimeContext, Error> {
        let rt = self
            .get(user)
            .ok_or_else(|| Error::UnknownUser(user.to_owned()))?;
        Ok(context_of(user, &rt, client))
    }

    /// A session pinned to the user's runtime as it is now: later changes of the user's runtime
    /// do not change the session's calls.
    pub fn pin(&self, user: &str) -> Result<Session, Error> {
        let runtime = self
            .get(user)
            .ok_or_else(|| Error::UnknownUser(user.to_owned()))?;
        Ok(Session {
            user: user.to_owned(),
            runtime,
        })
    }

    /// Users kept now (after pending evictions are applied).
    pub fn len(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }

    /// Whether no user is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Evictions from now on.
    pub fn events(&self) -> broadcast::Receiver<Evicted> {
        self.events.subscribe()
    }

    /// Applies pending evictions now (they otherwise happen as the store is used).
    pub fn run_pending(&self) {
        self.cache.run_pending_tasks();
    }
}

/// A user's runtime, frozen when the session began.
#[derive(Clone, Debug)]
pub struct Session {
    user: String,
    runtime: Arc<UserRuntime>,
}

impl Session {
    /// The runtime the session runs with.
    pub fn runtime(&self) -> &UserRuntime {
        &self.runtime
    }

    /// The context of a call in this session.
    pub fn context(&self, client: &reqwest::Client) -> RuntimeContext {
        context_of(&self.user, &self.runtime, client)
    }
}

fn context_of(user: &str, rt: &UserRuntime, client: &reqwest::Client) -> RuntimeContext {
    let mut ctx = RuntimeContext::new()
        .model(rt.model.clone())
        .settings(rt.settings.clone())
        .tenant(user)
        .client(client.clone());
    if let Some(c) = &rt.credential {
        ctx.credential = Some(c.clone());
    }
    if let Some(b) = &rt.base_url {
        ctx = ctx.base_url(b.clone());
    }
    ctx
}

#[cfg(test)]
mod tests;
