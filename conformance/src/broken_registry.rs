//! Deliberately broken registries and runtimes stores: the REG and CTX checks testing
//! themselves. Each is concord-registry's with one thing wrong, the way real ones get it wrong;
//! the self-test asserts each makes exactly its checks fail.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use concord::{Error, ErrorKind, EventStream, Provider, Request, Response, RuntimeContext};
use concord_registry::{Event, Evicted, Registry, Runtimes, RuntimesConfig, Settings, UserRuntime};
use futures_util::future::BoxFuture;
use tokio::sync::broadcast;

use crate::under_test::{
    Pinned, RegistryFactory, RegistryUnderTest, RuntimesFactory, RuntimesUnderTest,
};

/// What a broken registry gets wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryFlaw {
    /// Registering a taken name silently replaces the provider.
    ReplacesDuplicates,
    /// Discovery ignores the environment.
    IgnoresEnvironment,
    /// Health checks never change a status.
    StaleHealth,
    /// A shutdown waits for every call, however long (no bound, nothing cancelled).
    UnboundedShutdown,
    /// Unregistering cancels the provider's calls in flight.
    UnregisterCancelsCalls,
}

impl RegistryFlaw {
    /// Every flaw.
    pub const ALL: [RegistryFlaw; 5] = [
        Self::ReplacesDuplicates,
        Self::IgnoresEnvironment,
        Self::StaleHealth,
        Self::UnboundedShutdown,
        Self::UnregisterCancelsCalls,
    ];

    /// The factory for a registry with this flaw.
    pub fn factory(self) -> RegistryFactory {
        Arc::new(move |options| {
            Arc::new(Broken {
                inner: Registry::new(options),
                flaw: self,
                gone: Arc::new(Mutex::new(HashSet::new())),
            })
        })
    }
}

struct Broken {
    inner: Registry,
    flaw: RegistryFlaw,
    /// Names unregistered (for `UnregisterCancelsCalls`).
    gone: Arc<Mutex<HashSet<String>>>,
}

impl RegistryUnderTest for Broken {
    fn register(
        &self,
        name: &str,
        p: Arc<dyn Provider>,
        ctx: RuntimeContext,
    ) -> Result<(), String> {
        if self.flaw == RegistryFlaw::ReplacesDuplicates && self.inner.contains(name) {
            let _ = self.inner.unregister(name);
        }
        RegistryUnderTest::register(&self.inner, name, p, ctx)
    }

    fn unregister(&self, name: &str) -> Result<(), String> {
        self.gone.lock().expect("lock").insert(name.to_owned());
        RegistryUnderTest::unregister(&self.inner, name)
    }

    fn get(&self, name: &str) -> Result<(Arc<dyn Provider>, RuntimeContext), String> {
        let (p, ctx) = RegistryUnderTest::get(&self.inner, name)?;
        if self.flaw != RegistryFlaw::UnregisterCancelsCalls {
            return Ok((p, ctx));
        }
        self.gone.lock().expect("lock").remove(name);
        Ok((
            Arc::new(Cancelling {
                inner: p,
                name: name.to_owned(),
                gone: self.gone.clone(),
            }),
            ctx,
        ))
    }

    fn status(&self, name: &str) -> Option<String> {
        self.inner.status(name)
    }

    fn listing(&self) -> Vec<(String, String)> {
        self.inner.listing()
    }

    fn events(&self) -> broadcast::Receiver<Event> {
        RegistryUnderTest::events(&self.inner)
    }

    fn check_health(&self) -> BoxFuture<'_, ()> {
        if self.flaw == RegistryFlaw::StaleHealth {
            return Box::pin(async {});
        }
        RegistryUnderTest::check_health(&self.inner)
    }

    fn discover<'a>(&'a self, settings: &'a Settings) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let mut settings = settings.clone();
            if self.flaw == RegistryFlaw::IgnoresEnvironment {
                settings.registry.discover_env = false;
            }
            self.inner.discover_all(&settings).await;
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, usize> {
        Box::pin(async move {
            if self.flaw == RegistryFlaw::UnboundedShutdown {
                while self.inner.in_flight() > 0 {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            RegistryUnderTest::shutdown(&self.inner).await
        })
    }
}

/// Fails its calls once its name is unregistered (checked while they run).
struct Cancelling {
    inner: Arc<dyn Provider>,
    name: String,
    gone: Arc<Mutex<HashSet<String>>>,
}

impl Cancelling {
    async fn until_gone(&self) {
        while !self.gone.lock().expect("lock").contains(&self.name) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn cancelled(&self) -> Error {
        Error::new(ErrorKind::Cancelled, &self.name, "unregistered")
    }
}

impl Provider for Cancelling {
    concord::wrapped_identity!(inner);

    fn generate<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<Response>> {
        Box::pin(async move {
            tokio::select! {
                r = self.inner.generate(request, ctx) => r,
                _ = self.until_gone() => Err(self.cancelled()),
            }
        })
    }

    fn stream<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<EventStream>> {
        Box::pin(async move {
            tokio::select! {
                r = self.inner.stream(request, ctx) => r,
                _ = self.until_gone() => Err(self.cancelled()),
            }
        })
    }
}

/// What a broken runtimes store gets wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimesFlaw {
    /// One global "current runtime": the last user to set theirs sets everyone's.
    GlobalCurrent,
    /// Never evicts an idle runtime.
    NoIdleEviction,
    /// Keeps every user (no cap).
    NoCap,
    /// A pinned session follows the user's later changes.
    PinFollowsUser,
}

impl RuntimesFlaw {
    /// Every flaw.
    pub const ALL: [RuntimesFlaw; 4] = [
        Self::GlobalCurrent,
        Self::NoIdleEviction,
        Self::NoCap,
        Self::PinFollowsUser,
    ];

    /// The factory for a store with this flaw.
    pub fn factory(self) -> RuntimesFactory {
        Arc::new(
            move |mut config: RuntimesConfig| -> Arc<dyn RuntimesUnderTest> {
                match self {
                    Self::GlobalCurrent => Arc::new(Global::default()),
                    Self::NoIdleEviction => {
                        config.idle_ttl = Duration::from_secs(100 * 365 * 24 * 3600);
                        Arc::new(Runtimes::new(config))
                    }
                    Self::NoCap => {
                        config.max_users = u64::MAX;
                        Arc::new(Runtimes::new(config))
                    }
                    Self::PinFollowsUser => Arc::new(Following(Arc::new(Runtimes::new(config)))),
                }
            },
        )
    }
}

/// The store that has one runtime for everybody.
struct Global {
    current: Mutex<Option<UserRuntime>>,
    events: broadcast::Sender<Evicted>,
}

impl Default for Global {
    fn default() -> Self {
        Self {
            current: Mutex::new(None),
            events: broadcast::channel(16).0,
        }
    }
}

impl RuntimesUnderTest for Global {
    fn set(&self, _: &str, runtime: UserRuntime) {
        *self.current.lock().expect("lock") = Some(runtime);
    }

    fn update(
        &self,
        _: &str,
        change: Box<dyn FnOnce(&UserRuntime) -> UserRuntime + Send + '_>,
    ) -> Result<(), String> {
        let mut current = self.current.lock().expect("lock");
        let next = change(current.as_ref().ok_or("unknown_user")?);
        *current = Some(next);
        Ok(())
    }

    fn context(&self, user: &str, client: &reqwest::Client) -> Result<RuntimeContext, String> {
        let current = self.current.lock().expect("lock");
        let rt = current.as_ref().ok_or("unknown_user")?;
        Ok(rt.context(user, client))
    }

    fn pin(&self, user: &str) -> Result<Pinned, String> {
        let rt = self
            .current
            .lock()
            .expect("lock")
            .clone()
            .ok_or("unknown_user")?;
        let user = user.to_owned();
        Ok(Box::new(move |client| rt.context(&user, client)))
    }

    fn run_pending(&self) {}

    fn len(&self) -> u64 {
        u64::from(self.current.lock().expect("lock").is_some())
    }

    fn events(&self) -> broadcast::Receiver<Evicted> {
        self.events.subscribe()
    }
}

/// A store whose sessions read the user's runtime at each call instead of pinning it.
struct Following(Arc<Runtimes>);

impl RuntimesUnderTest for Following {
    fn set(&self, user: &str, runtime: UserRuntime) {
        self.0.set(user, runtime)
    }

    fn update(
        &self,
        user: &str,
        change: Box<dyn FnOnce(&UserRuntime) -> UserRuntime + Send + '_>,
    ) -> Result<(), String> {
        RuntimesUnderTest::update(self.0.as_ref(), user, change)
    }

    fn context(&self, user: &str, client: &reqwest::Client) -> Result<RuntimeContext, String> {
        RuntimesUnderTest::context(self.0.as_ref(), user, client)
    }

    fn pin(&self, user: &str) -> Result<Pinned, String> {
        let store = self.0.clone();
        let user = user.to_owned();
        Ok(Box::new(move |client| {
            store
                .context(&user, client)
                .unwrap_or_else(|_| RuntimeContext::new())
        }))
    }

    fn run_pending(&self) {
        self.0.run_pending()
    }

    fn len(&self) -> u64 {
        self.0.len()
    }

    fn events(&self) -> broadcast::Receiver<Evicted> {
        self.0.events()
    }
}
