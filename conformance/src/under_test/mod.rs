//! What the REG, CTX and CAT checks drive: a provider registry, a per-user runtimes store and a
//! model database (`models.rs`), behind small traits so the suite can run against concord's
//! (the default) or against a deliberately broken one (`broken_registry`, `broken_models`), the
//! way the DSP checks take any dispatcher.

mod models;

pub use models::{default_models, ConcordModels, ModelsFactory, ModelsUnderTest};

use std::sync::Arc;

use concord::{Provider, RuntimeContext};
use concord_registry::{
    Event, Evicted, Options, Registry, Runtimes, RuntimesConfig, Settings, UserRuntime,
};
use futures_util::future::BoxFuture;
use tokio::sync::broadcast;

/// A provider registry under test. Errors are the registry's kind names (`already_exists`).
pub trait RegistryUnderTest: Send + Sync {
    /// Registers a provider value with its call template.
    fn register(
        &self,
        name: &str,
        provider: Arc<dyn Provider>,
        ctx: RuntimeContext,
    ) -> Result<(), String>;
    /// Unregisters.
    fn unregister(&self, name: &str) -> Result<(), String>;
    /// A provider to call and its template.
    fn get(&self, name: &str) -> Result<(Arc<dyn Provider>, RuntimeContext), String>;
    /// `ready`, `error`, … of a registered provider.
    fn status(&self, name: &str) -> Option<String>;
    /// `(name, source)` of everything registered.
    fn listing(&self) -> Vec<(String, String)>;
    /// Events from now on.
    fn events(&self) -> broadcast::Receiver<Event>;
    /// One round of health checks.
    fn check_health(&self) -> BoxFuture<'_, ()>;
    /// Discovery from the file's settings, the environment and the plugins folder.
    fn discover<'a>(&'a self, settings: &'a Settings) -> BoxFuture<'a, ()>;
    /// Graceful shutdown; the number of calls it cancelled.
    fn shutdown(&self) -> BoxFuture<'_, usize>;
}

/// Builds a registry under test from concord-registry's options.
pub type RegistryFactory = Arc<dyn Fn(Options) -> Arc<dyn RegistryUnderTest> + Send + Sync>;

/// concord-registry's [`Registry`].
pub fn default_registry() -> RegistryFactory {
    Arc::new(|options| Arc::new(Registry::new(options)))
}

impl RegistryUnderTest for Registry {
    fn register(
        &self,
        name: &str,
        provider: Arc<dyn Provider>,
        ctx: RuntimeContext,
    ) -> Result<(), String> {
        self.register_instance(name, provider, ctx)
            .map(|_| ())
            .map_err(|e| e.kind().to_owned())
    }

    fn unregister(&self, name: &str) -> Result<(), String> {
        Registry::unregister(self, name).map_err(|e| e.kind().to_owned())
    }

    fn get(&self, name: &str) -> Result<(Arc<dyn Provider>, RuntimeContext), String> {
        let h = Registry::get(self, name).map_err(|e| e.kind().to_owned())?;
        let ctx = h.context();
        Ok((Arc::new(h), ctx))
    }

    fn status(&self, name: &str) -> Option<String> {
        Registry::get(self, name)
            .ok()
            .map(|h| h.info().status.name().to_owned())
    }

    fn listing(&self) -> Vec<(String, String)> {
        self.snapshot()
            .into_iter()
            .map(|i| (i.name, i.source.name().to_owned()))
            .collect()
    }

    fn events(&self) -> broadcast::Receiver<Event> {
        Registry::events(self)
    }

    fn check_health(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            Registry::check_health(self).await;
        })
    }

    fn discover<'a>(&'a self, settings: &'a Settings) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.discover_all(settings).await;
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, usize> {
        Box::pin(async move { Registry::shutdown(self).await.cancelled })
    }
}

/// A pinned session's context maker.
pub type Pinned = Box<dyn Fn(&reqwest::Client) -> RuntimeContext + Send + Sync>;

/// A per-user runtimes store under test.
pub trait RuntimesUnderTest: Send + Sync {
    /// Sets a user's runtime.
    fn set(&self, user: &str, runtime: UserRuntime);
    /// Changes a user's runtime atomically.
    fn update(
        &self,
        user: &str,
        change: Box<dyn FnOnce(&UserRuntime) -> UserRuntime + Send + '_>,
    ) -> Result<(), String>;
    /// A call's context for the user.
    fn context(&self, user: &str, client: &reqwest::Client) -> Result<RuntimeContext, String>;
    /// A session pinned to the user's runtime as it is now.
    fn pin(&self, user: &str) -> Result<Pinned, String>;
    /// Applies idle and capacity evictions now.
    fn run_pending(&self);
    /// Users kept.
    fn len(&self) -> u64;
    /// Whether no user is kept.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Evictions from now on.
    fn events(&self) -> broadcast::Receiver<Evicted>;
}

/// Builds a runtimes store under test.
pub type RuntimesFactory = Arc<dyn Fn(RuntimesConfig) -> Arc<dyn RuntimesUnderTest> + Send + Sync>;

/// concord-registry's [`Runtimes`].
pub fn default_runtimes() -> RuntimesFactory {
    Arc::new(|config| Arc::new(Runtimes::new(config)))
}

impl RuntimesUnderTest for Runtimes {
    fn set(&self, user: &str, runtime: UserRuntime) {
        Runtimes::set(self, user, runtime)
    }

    fn update(
        &self,
        user: &str,
        change: Box<dyn FnOnce(&UserRuntime) -> UserRuntime + Send + '_>,
    ) -> Result<(), String> {
        Runtimes::update(self, user, |rt| Ok(change(rt)))
            .map(|_| ())
            .map_err(|e| e.kind().to_owned())
    }

    fn context(&self, user: &str, client: &reqwest::Client) -> Result<RuntimeContext, String> {
        Runtimes::context(self, user, client).map_err(|e| e.kind().to_owned())
    }

    fn pin(&self, user: &str) -> Result<Pinned, String> {
        let session = Runtimes::pin(self, user).map_err(|e| e.kind().to_owned())?;
        Ok(Box::new(move |client| session.context(client)))
    }

    fn run_pending(&self) {
        Runtimes::run_pending(self)
    }

    fn len(&self) -> u64 {
        Runtimes::len(self)
    }

    fn events(&self) -> broadcast::Receiver<Evicted> {
        Runtimes::events(self)
    }
}
