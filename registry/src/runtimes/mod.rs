//! Per-user runtime contexts: a store keyed by user or tenant id. There is no global
//! "current provider": user A choosing Gemini never changes what user B runs, and a user without
//! a runtime gets the configured default profile only when the caller asks for it explicitly.
//!
//! Built on `moka`: the number of users is capped (memory stays bounded with any number of them;
//! the least recently used go first), and an update of one user is atomic (`and_compute_with`:
//! two concurrent updates of one user never interleave; updates of different users never wait on
//! each other). Idleness is measured on a [`Clock`] of our own rather than moka's, so a test (or
//! the conformance suite) can move time forward: an idle runtime is gone the moment it is next
//! looked at, and [`Runtimes::run_pending`] sweeps the rest.

mod clock;
mod store;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use clock::{Clock, ManualClock, SystemClock};
pub use store::RuntimeStore;

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

impl UserRuntime {
    /// The context of a call made with this runtime for `user`: its model, parameters,
    /// credential and base URL, the shared `client`, and the user as the call's tenant.
    pub fn context(&self, user: &str, client: &reqwest::Client) -> RuntimeContext {
        RuntimeContext {
            credential: self.credential.clone(),
            base_url: self.base_url.clone(),
            ..RuntimeContext::new()
                .model(self.model.clone())
                .settings(self.settings.clone())
                .tenant(user)
                .client(client.clone())
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
    /// What idleness is measured on.
    pub clock: Arc<dyn Clock>,
}

impl Default for RuntimesConfig {
    fn default() -> Self {
        Self {
            idle_ttl: Duration::from_secs(24 * 3600),
            max_users: 100_000,
            default_profile: None,
            clock: Arc::new(SystemClock::new()),
        }
    }
}

/// A stored runtime with when it was last used.
struct Slot {
    runtime: Arc<UserRuntime>,
    touched_ms: AtomicU64,
    /// Set just before an idle slot is removed, so the removal is reported as `idle`.
    idle: AtomicBool,
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
    cache: moka::sync::Cache<String, Arc<Slot>>,
    default: Option<Arc<UserRuntime>>,
    events: broadcast::Sender<Evicted>,
    clock: Arc<dyn Clock>,
    ttl_ms: u64,
}

impl Runtimes {
    /// An empty store.
    pub fn new(config: RuntimesConfig) -> Self {
        let (events, _) = broadcast::channel(1024);
        let sender = events.clone();
        let cache = moka::sync::Cache::builder()
            .max_capacity(config.max_users)
            .eviction_listener(move |user: Arc<String>, slot: Arc<Slot>, cause| {
                let cause = match cause {
                    RemovalCause::Expired => "idle",
                    RemovalCause::Size => "capacity",
                    RemovalCause::Explicit if slot.idle.load(Ordering::Acquire) => "idle",
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
            clock: config.clock,
            ttl_ms: config.idle_ttl.as_millis().min(u128::from(u64::MAX)) as u64,
        }
    }

    fn now_ms(&self) -> u64 {
        self.clock.now().as_millis().min(u128::from(u64::MAX)) as u64
    }

    fn slot(&self, runtime: Arc<UserRuntime>) -> Arc<Slot> {
        Arc::new(Slot {
            runtime,
            touched_ms: AtomicU64::new(self.now_ms()),
            idle: AtomicBool::new(false),
        })
    }

    fn expired(&self, slot: &Slot, now: u64) -> bool {
        now.saturating_sub(slot.touched_ms.load(Ordering::Acquire)) >= self.ttl_ms
    }

    /// The live slot of `user`, touched; an idle one is evicted instead.
    fn live(&self, user: &str) -> Option<Arc<Slot>> {
        let slot = self.cache.get(user)?;
        let now = self.now_ms();
        if self.expired(&slot, now) {
            slot.idle.store(true, Ordering::Release);
            self.cache.invalidate(user);
            return None;
        }
        slot.touched_ms.store(now, Ordering::Release);
        Some(slot)
    }

    /// The user's runtime, if they have one (and it has not been idle past the TTL).
    pub fn get(&self, user: &str) -> Option<Arc<UserRuntime>> {
        self.live(user).map(|s| s.runtime.clone())
    }

    /// The user's runtime, or a copy of the default profile made theirs.
    pub fn get_or_default(&self, user: &str) -> Result<Arc<UserRuntime>, Error> {
        if let Some(rt) = self.get(user) {
            return Ok(rt);
        }
        let default = self
            .default
            .clone()
            .ok_or_else(|| Error::UnknownUser(user.to_owned()))?;
        Ok(self
            .cache
            .entry(user.to_owned())
            .or_insert_with(|| self.slot(default))
            .into_value()
            .runtime
            .clone())
    }

    /// Sets the user's runtime.
    pub fn set(&self, user: &str, runtime: UserRuntime) {
        self.cache
            .insert(user.to_owned(), self.slot(Arc::new(runtime)));
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
                if self.expired(current.value(), self.now_ms()) {
                    current.value().idle.store(true, Ordering::Release);
                    return Op::Remove;
                }
                match change(&current.value().runtime) {
                    Ok(next) => {
                        let next = Arc::new(next);
                        outcome = Ok(next.clone());
                        Op::Put(self.slot(next))
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
        Ok(rt.context(user, client))
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

    /// Users kept now (after idle ones are swept and pending evictions applied).
    pub fn len(&self) -> u64 {
        self.run_pending();
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

    /// Evicts every runtime idle past the TTL and applies pending evictions now (a service
    /// calls it now and then; an idle runtime is also evicted when it is next looked up).
    pub fn run_pending(&self) {
        let now = self.now_ms();
        for (user, slot) in self.cache.iter() {
            if self.expired(&slot, now) {
                slot.idle.store(true, Ordering::Release);
                self.cache.invalidate(user.as_str());
            }
        }
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
        self.runtime.context(&self.user, client)
    }
}

#[cfg(test)]
mod tests;
