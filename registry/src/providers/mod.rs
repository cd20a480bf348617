//! The provider registry: the one place that says which providers exist.
//!
//! Providers are registered by hand ([`Registry::register`], [`Registry::register_instance`])
//! or discovered ([`Registry::discover_all`]: the config file, the environment, a folder of
//! plugin manifests). The map is an `arc-swap` snapshot: readers never wait for a writer, and a
//! call that obtained a provider keeps it (an `Arc`) and finishes even if it is unregistered or
//! replaced meanwhile. Calls through a [`Handle`] are counted, so [`Registry::shutdown`] can
//! stop taking new ones, let the rest finish within its bound and cancel what is left.

mod build;
mod calls;
mod discover;
mod events;
mod health;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use concord::{Capabilities, EventStream, Provider, Request, Response, RuntimeContext};
use concord_dispatch::{BreakerState, DispatchConfig, Dispatcher};
use futures_util::future::BoxFuture;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

pub use discover::{planned_names, Discovery, SourceReport};
pub use events::Event;
pub use health::{HealthCheck, Probe};

use crate::error::Error;
use crate::settings::{ProviderSettings, RegistrySettings, Settings};
use calls::Calls;

/// Where a provider came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// A `[providers.<name>]` section of the config file.
    Config,
    /// A shipped provider whose key variable is set.
    Environment,
    /// A plugin manifest in the plugins folder.
    Plugin,
    /// Registered by the program.
    Api,
}

impl Source {
    /// `config`, `environment`, `plugin`, `api`.
    pub fn name(self) -> &'static str {
        match self {
            Source::Config => "config",
            Source::Environment => "environment",
            Source::Plugin => "plugin",
            Source::Api => "api",
        }
    }
}

/// A provider's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Registered, not yet started or checked.
    Initializing,
    /// Takes calls.
    Ready,
    /// Its last health check failed, or its breaker is open (why).
    Error(String),
    /// Unregistered or shut down.
    Disposed,
}

impl Status {
    /// `initializing`, `ready`, `error`, `disposed`.
    pub fn name(&self) -> &'static str {
        match self {
            Status::Initializing => "initializing",
            Status::Ready => "ready",
            Status::Error(_) => "error",
            Status::Disposed => "disposed",
        }
    }
}

/// What the registry knows about one provider, at one moment.
#[derive(Debug, Clone)]
pub struct Info {
    /// Its name in the registry.
    pub name: String,
    /// Its status.
    pub status: Status,
    /// What it supports.
    pub capabilities: Capabilities,
    /// Where it came from.
    pub source: Source,
    /// Where exactly (`concord.toml:12`, `OPENAI_API_KEY`, the manifest's path, `api`).
    pub origin: String,
    /// Its default model, if any.
    pub model: Option<String>,
    /// When it was registered.
    pub registered_at: SystemTime,
    /// The last health check, if one ran.
    pub last_health: Option<HealthCheck>,
    /// Its breaker's state, when it runs behind the dispatcher.
    pub breaker: Option<BreakerState>,
    /// The limits its dispatcher applies now (configured, with the model database's over them),
    /// when it runs behind the dispatcher.
    pub limits: Option<concord_dispatch::Limits>,
    /// Its dispatcher's admission now: calls waiting and in flight, refusals so far.
    pub admission: Option<concord_dispatch::LimitStats>,
}

struct State {
    status: Status,
    last_health: Option<HealthCheck>,
}

/// One registered provider.
struct Entry {
    name: String,
    source: Source,
    origin: String,
    registered_at: SystemTime,
    provider: Arc<dyn Provider>,
    dispatcher: Option<Arc<Dispatcher>>,
    /// The limits its dispatcher was configured with, and those applied last (the model
    /// model database's lay over the configured ones).
    limits: concord_dispatch::Limits,
    applied: Mutex<Option<concord_dispatch::Limits>>,
    context: RuntimeContext,
    /// The section it was built from, to tell a changed one on refresh.
    config: Option<ProviderSettings>,
    state: Mutex<State>,
}

impl Entry {
    fn info(&self) -> Info {
        let state = self.state.lock().expect("entry state");
        Info {
            name: self.name.clone(),
            status: state.status.clone(),
            capabilities: self.provider.capabilities(),
            source: self.source,
            origin: self.origin.clone(),
            model: self.context.model.clone(),
            registered_at: self.registered_at,
            last_health: state.last_health.clone(),
            breaker: self
                .dispatcher
                .as_ref()
                .and_then(|d| d.health().into_iter().next().map(|h| h.state)),
            limits: self.dispatcher.as_ref().map(|_| {
                self.applied
                    .lock()
                    .expect("entry limits")
                    .clone()
                    .unwrap_or_else(|| self.limits.clone())
            }),
            admission: self.dispatcher.as_ref().map(|d| d.limit_stats()),
        }
    }

    fn set_status(&self, status: Status) -> Status {
        std::mem::replace(&mut self.state.lock().expect("entry state").status, status)
    }

    fn set_status_unless_disposed(&self, status: Status) {
        let mut state = self.state.lock().expect("entry state");
        if state.status != Status::Disposed {
            state.status = status;
        }
    }
}

/// How a variable is read: its value by name.
pub type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// How a registry behaves.
#[derive(Clone)]
pub struct Options {
    /// The HTTP client every provider's calls use.
    pub client: reqwest::Client,
    /// Timeouts, intervals, discovery switches.
    pub settings: RegistrySettings,
    /// The dispatcher's layers put around providers from the config file and the environment
    /// (their breaker is the passive half of health); `None` registers them bare.
    pub dispatch: Option<DispatchConfig>,
    /// How variables are read (the process environment unless a test says otherwise).
    pub env: Lookup,
    /// The active health check.
    pub probe: Probe,
}

impl Options {
    /// Defaults: the process environment, the dispatcher's defaults, a one-token probe.
    pub fn new(client: reqwest::Client) -> Self {
        Self {
            client,
            settings: RegistrySettings::default(),
            dispatch: Some(DispatchConfig::default()),
            env: Arc::new(|name| std::env::var(name).ok()),
            probe: health::one_token(),
        }
    }

    /// The options a loaded configuration gives.
    pub fn from_settings(settings: &Settings, client: reqwest::Client) -> Self {
        Self {
            settings: settings.registry.clone(),
            dispatch: Some(settings.dispatcher.clone()),
            ..Self::new(client)
        }
    }
}

/// Where a new entry comes from and how it goes in.
pub(crate) struct Placement {
    source: Source,
    origin: String,
    /// The section it was built from, if any.
    config: Option<ProviderSettings>,
    /// Whether the dispatcher's layers go around it.
    dispatch: bool,
    /// Whether it replaces an entry of the same name (else a taken name is refused).
    replace: bool,
}

impl Placement {
    /// A new entry from `source`, behind the dispatcher, refused if the name is taken.
    pub(crate) fn section(source: Source, origin: String) -> Self {
        Self {
            source,
            origin,
            config: None,
            dispatch: true,
            replace: false,
        }
    }
}

struct Inner {
    entries: ArcSwap<BTreeMap<String, Arc<Entry>>>,
    /// Writers take turns (readers never take it).
    write: Mutex<()>,
    events: broadcast::Sender<Event>,
    options: Options,
    calls: Arc<Calls>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// The model database's limits are enforced at `1 / share` (see `set_limit_share`).
    limit_share: std::sync::atomic::AtomicU32,
}

/// The registry. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("providers", &self.names())
            .finish_non_exhaustive()
    }
}

/// What a shutdown did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Calls that finished on their own during the shutdown.
    pub finished: usize,
    /// Calls still running at the bound, ended with `cancelled`.
    pub cancelled: usize,
    /// Providers disposed.
    pub disposed: Vec<String>,
    /// How long it took.
    pub elapsed: Duration,
}

impl Registry {
    /// An empty registry.
    pub fn new(options: Options) -> Self {
        let (events, _) = broadcast::channel(1024);
        Self {
            inner: Arc::new(Inner {
                entries: ArcSwap::from_pointee(BTreeMap::new()),
                write: Mutex::new(()),
                events,
                options,
                calls: Arc::new(Calls::default()),
                tasks: Mutex::new(Vec::new()),
                limit_share: std::sync::atomic::AtomicU32::new(1),
            }),
        }
    }

    /// Events from now on.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    fn emit(&self, event: Event) {
        event.log();
        let _ = self.inner.events.send(event);
    }

    fn defaults(&self) -> build::Defaults<'_> {
        build::Defaults {
            client: &self.inner.options.client,
            env: self.inner.options.env.as_ref(),
            timeout: self.inner.options.settings.timeout,
        }
    }

    /// Registers a provider from a `[providers.<name>]` section: built, started (a plugin's
    /// process and handshake), put behind the dispatcher. Refuses an invalid name, a taken
    /// one, or a section it cannot build (`registration_failed` with the cause).
    pub async fn register(&self, name: &str, config: ProviderSettings) -> Result<Info, Error> {
        self.register_from(name, config, Source::Api, "api".into())
            .await
    }

    pub(crate) async fn register_from(
        &self,
        name: &str,
        config: ProviderSettings,
        source: Source,
        origin: String,
    ) -> Result<Info, Error> {
        self.admit(name)?;
        self.build_section(name, config, Placement::section(source, origin))
            .await
    }

    /// Builds `config` and swaps it in for the provider called `name` in one step.
    pub(crate) async fn replace_from(
        &self,
        name: &str,
        config: ProviderSettings,
        origin: String,
    ) -> Result<Info, Error> {
        let placement = Placement {
            replace: true,
            ..Placement::section(Source::Config, origin)
        };
        self.build_section(name, config, placement).await
    }

    /// Builds a section's provider and context and puts them in the map as `placement` says.
    async fn build_section(
        &self,
        name: &str,
        mut config: ProviderSettings,
        mut placement: Placement,
    ) -> Result<Info, Error> {
        let (provider, context) = build::from_settings(&config, &self.defaults())
            .await
            .map_err(|cause| self.failed(name, cause))?;
        // Kept to tell a changed section on refresh; where it sat in the file is no change.
        config.origin.clear();
        placement.config = Some(config);
        self.insert(name, provider, context, placement)
    }

    /// Registers a provider value the program built, with the context template its calls
    /// start from (`Handle::context`). It is used as given (no dispatcher around it).
    pub fn register_instance(
        &self,
        name: &str,
        provider: Arc<dyn Provider>,
        context: RuntimeContext,
    ) -> Result<Info, Error> {
        self.admit(name)?;
        let placement = Placement {
            dispatch: false,
            ..Placement::section(Source::Api, "api".into())
        };
        self.insert(name, provider, context, placement)
    }

    fn admit(&self, name: &str) -> Result<(), Error> {
        crate::name::check(name).map_err(|why| Error::InvalidName {
            name: name.to_owned(),
            why,
        })?;
        if self.inner.calls.is_closed() {
            return Err(Error::ShuttingDown);
        }
        if self.contains(name) {
            return Err(Error::AlreadyExists(name.to_owned()));
        }
        Ok(())
    }

    fn failed(&self, name: &str, cause: concord::Error) -> Error {
        let (kind, cause) = (cause.kind, cause.message);
        self.emit(Event::ProviderError {
            name: name.to_owned(),
            message: cause.clone(),
        });
        Error::RegistrationFailed {
            name: name.to_owned(),
            kind,
            cause,
        }
    }

    fn insert(
        &self,
        name: &str,
        provider: Arc<dyn Provider>,
        context: RuntimeContext,
        placement: Placement,
    ) -> Result<Info, Error> {
        let Placement {
            source,
            origin,
            config,
            dispatch,
            replace,
        } = placement;
        let mut limits = concord_dispatch::Limits::default();
        let dispatcher = match (&self.inner.options.dispatch, dispatch) {
            (Some(base), true) => {
                // A section's own `[providers.<name>.dispatcher]` table, laid over the base.
                let c = config
                    .as_ref()
                    .and_then(|cfg| cfg.dispatch.clone())
                    .unwrap_or_else(|| base.clone());
                limits = c.limits.clone();
                let d = Dispatcher::from_arc(provider.clone(), c).map_err(|e| {
                    let e =
                        concord::Error::new(concord::ErrorKind::InvalidConfig, name, e.to_string());
                    self.failed(name, e)
                })?;
                Some(Arc::new(d))
            }
            _ => None,
        };
        let entry = Arc::new(Entry {
            name: name.to_owned(),
            source,
            origin,
            registered_at: SystemTime::now(),
            provider: match &dispatcher {
                Some(d) => d.clone(),
                None => provider,
            },
            dispatcher: dispatcher.clone(),
            applied: Mutex::new(Some(limits.clone())),
            limits,
            context,
            config,
            state: Mutex::new(State {
                status: Status::Ready,
                last_health: None,
            }),
        });
        let replaced = {
            let _w = self.inner.write.lock().expect("registry writer");
            let current = self.inner.entries.load();
            if current.contains_key(name) && !replace {
                return Err(Error::AlreadyExists(name.to_owned()));
            }
            let mut next = BTreeMap::clone(&current);
            let replaced = next.insert(name.to_owned(), entry.clone());
            self.inner.entries.store(Arc::new(next));
            replaced
        };
        if let Some(old) = replaced {
            // Swapped in one store: no `get` in between finds nothing; calls holding the old
            // entry finish with it.
            old.set_status(Status::Disposed);
            self.emit(Event::ProviderUnregistered {
                name: name.to_owned(),
            });
        }
        if let Some(d) = dispatcher {
            self.forward_breaker(name, &d);
        }
        self.emit(Event::ProviderRegistered {
            name: name.to_owned(),
            source,
        });
        Ok(entry.info())
    }

    /// Applies the model database's limits (requests and tokens per minute, calls in flight,
    /// under each provider's registered name) to the dispatchers now, over each one's
    /// configured limits; the names whose limits changed. Calls in flight keep their permits.
    pub fn apply_limits_from(&self, models: &concord_models::Models) -> Vec<String> {
        let mut changed = Vec::new();
        for e in self.inner.entries.load().values() {
            let Some(d) = &e.dispatcher else { continue };
            let mut applied = e.applied.lock().expect("entry limits");
            let share = self
                .inner
                .limit_share
                .load(std::sync::atomic::Ordering::Relaxed);
            if concord_models::limits::apply(models, &e.name, &e.limits, d, &mut applied, share) {
                changed.push(e.name.clone());
            }
        }
        changed
    }

    /// Enforces the model database's limits at `1 / share` of each from now on (applied at the
    /// next [`Registry::apply_limits_from`]): an instance of several that cannot share them
    /// (Redis is gone) takes its part; 1 (the default) is the whole limit.
    pub fn set_limit_share(&self, share: u32) {
        self.inner
            .limit_share
            .store(share.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// Keeps the dispatchers on the model database's limits, checking every `every` (the bound on
    /// how long an edit takes to be enforced, with the model database's own refresh for edits made
    /// by other instances). A shutdown stops it.
    pub fn follow_models(&self, models: Arc<concord_models::Models>, every: Duration) {
        let this = Arc::downgrade(&self.inner);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let Some(inner) = this.upgrade() else { return };
                Registry { inner }.apply_limits_from(&models);
            }
        });
        self.keep(task);
    }

    /// Breaker changes of a provider's dispatcher become registry events.
    fn forward_breaker(&self, name: &str, d: &Dispatcher) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut rx = d.events();
        let this = Arc::downgrade(&self.inner);
        let name = name.to_owned();
        let task = rt.spawn(async move {
            while let Ok(e) = rx.recv().await {
                let Some(inner) = this.upgrade() else { return };
                let reg = Registry { inner };
                // The passive half of health: an open breaker makes the provider `error` until
                // it closes (or an active check says otherwise).
                let entry = reg.inner.entries.load().get(&name).cloned();
                match e.to {
                    BreakerState::Open => {
                        if let Some(entry) = &entry {
                            entry.set_status_unless_disposed(Status::Error(format!(
                                "breaker open: {}",
                                e.reason
                            )));
                        }
                        reg.emit(Event::BreakerOpened {
                            name: name.clone(),
                            reason: e.reason,
                        })
                    }
                    BreakerState::Closed => {
                        if let Some(entry) = &entry {
                            entry.set_status_unless_disposed(Status::Ready);
                        }
                        reg.emit(Event::BreakerClosed { name: name.clone() })
                    }
                    BreakerState::HalfOpen => {}
                }
            }
        });
        self.keep(task);
    }

    /// Keeps a background task to stop at shutdown (dropping the finished ones).
    fn keep(&self, task: JoinHandle<()>) {
        let mut tasks = self.inner.tasks.lock().expect("tasks");
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
    }

    /// Unregisters `name`. Calls that already hold it finish; new `get`s do not find it.
    pub fn unregister(&self, name: &str) -> Result<(), Error> {
        let removed = {
            let _w = self.inner.write.lock().expect("registry writer");
            let current = self.inner.entries.load();
            let mut next = BTreeMap::clone(&current);
            let removed = next.remove(name);
            if removed.is_some() {
                self.inner.entries.store(Arc::new(next));
            }
            removed
        };
        match removed {
            Some(entry) => {
                entry.set_status(Status::Disposed);
                self.emit(Event::ProviderUnregistered {
                    name: name.to_owned(),
                });
                Ok(())
            }
            None => Err(self.not_found(name)),
        }
    }

    fn not_found(&self, name: &str) -> Error {
        Error::NotFound {
            name: name.to_owned(),
            known: self.names().join(", "),
        }
    }

    /// The provider `name`, as a [`Handle`] to call it through.
    pub fn get(&self, name: &str) -> Result<Handle, Error> {
        match self.inner.entries.load().get(name) {
            Some(entry) => Ok(Handle {
                entry: entry.clone(),
                calls: self.inner.calls.clone(),
            }),
            None => Err(self.not_found(name)),
        }
    }

    /// Every registered name, sorted.
    pub fn names(&self) -> Vec<String> {
        self.inner.entries.load().keys().cloned().collect()
    }

    /// Whether `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.inner.entries.load().contains_key(name)
    }

    /// Everything registered, sorted by name.
    pub fn snapshot(&self) -> Vec<Info> {
        self.inner
            .entries
            .load()
            .values()
            .map(|e| e.info())
            .collect()
    }

    /// Calls in flight through handles.
    pub fn in_flight(&self) -> usize {
        self.inner.calls.in_flight()
    }

    /// Graceful shutdown: takes no new calls or registrations, stops health checks and
    /// refreshing, lets calls in flight finish for up to `registry.shutdown_timeout`, then ends
    /// the rest with `cancelled` and disposes every provider. Returns within the bound plus a
    /// short margin (for cancelled calls to unwind).
    pub async fn shutdown(&self) -> ShutdownReport {
        let started = tokio::time::Instant::now();
        let calls = &self.inner.calls;
        calls.close();
        for task in self.inner.tasks.lock().expect("tasks").drain(..) {
            task.abort();
        }
        let before = calls.in_flight();
        let deadline = started + self.inner.options.settings.shutdown_timeout;
        let cancelled = if calls.drained_by(deadline).await {
            0
        } else {
            let left = calls.in_flight();
            calls.cancel.cancel();
            // Cancelled calls end at their next poll; a short wait lets them count down.
            calls
                .drained_by(tokio::time::Instant::now() + SHUTDOWN_MARGIN)
                .await;
            left
        };
        let disposed = {
            let _w = self.inner.write.lock().expect("registry writer");
            let all = self.inner.entries.swap(Arc::new(BTreeMap::new()));
            all.values()
                .map(|e| {
                    e.set_status(Status::Disposed);
                    e.name.clone()
                })
                .collect::<Vec<_>>()
        };
        for name in &disposed {
            self.emit(Event::ProviderUnregistered { name: name.clone() });
        }
        ShutdownReport {
            finished: before.saturating_sub(cancelled),
            cancelled,
            disposed,
            elapsed: started.elapsed(),
        }
    }
}

/// How long a shutdown waits, past its bound, for cancelled calls to unwind.
pub const SHUTDOWN_MARGIN: Duration = Duration::from_millis(250);

/// A registered provider, to call. It keeps the provider alive while held, so a call finishes
/// even if the provider is unregistered meanwhile; a shutdown refuses new calls and cancels the
/// ones past its bound.
#[derive(Clone)]
pub struct Handle {
    entry: Arc<Entry>,
    calls: Arc<Calls>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("name", &self.entry.name)
            .finish_non_exhaustive()
    }
}

impl Handle {
    /// The context its calls start from: model, credential, base URL, parameters, timeout and
    /// client from its registration. Add the tenant and anything else per call.
    pub fn context(&self) -> RuntimeContext {
        self.entry.context.clone()
    }

    /// What the registry knows about it now.
    pub fn info(&self) -> Info {
        self.entry.info()
    }
}

impl Provider for Handle {
    fn name(&self) -> &str {
        &self.entry.name
    }

    fn capabilities(&self) -> Capabilities {
        self.entry.provider.capabilities()
    }

    fn generate<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<Response>> {
        Box::pin(async move {
            let _guard = self.calls.enter(&self.entry.name)?;
            tokio::select! {
                biased;
                r = self.entry.provider.generate(request, ctx) => r,
                _ = self.calls.cancel.cancelled() => Err(calls::cancelled(&self.entry.name)),
            }
        })
    }

    fn stream<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<EventStream>> {
        Box::pin(async move {
            let guard = self.calls.enter(&self.entry.name)?;
            let stream = tokio::select! {
                biased;
                r = self.entry.provider.stream(request, ctx) => r?,
                _ = self.calls.cancel.cancelled() => return Err(calls::cancelled(&self.entry.name)),
            };
            Ok(calls::guarded(
                stream,
                guard,
                self.calls.cancel.clone(),
                self.entry.name.clone(),
            ))
        })
    }
}

#[cfg(test)]
mod tests;
