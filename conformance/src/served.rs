//! A subject behind `concord serve`: concord's own client → the server (in-process, on a
//! loopback port, its model database embedded in a folder of its own) → the mock vendor of the
//! provider under test. Every check runs through it unchanged: what the caller gets back is
//! what came through the server's door, and what the vendor received is what the server sent.
//!
//! A check gives each call the context that reaches its mock (base URL, key, timeout,
//! headers). The server cannot take those per call, so the provider under test is registered
//! once per distinct upstream context, under a name of its own (`up-1`, `up-2`, …), and the
//! call names `up-N/model`. The server's own dispatcher is absent (`register_instance`): a
//! vendor's error reaches the caller unretried, as the ERR checks expect of a provider.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use concord::{
    Capabilities, EventStream, Provider, Request, Response, Result as CallResult, RuntimeContext,
};
use futures_util::future::BoxFuture;

/// The door a served subject's client comes in by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// `POST /v1/chat/completions`, with concord's OpenAI Chat Completions client.
    Openai,
    /// `POST /v1/messages`, with concord's Anthropic Messages client.
    Anthropic,
}

impl Door {
    /// Both doors.
    pub const ALL: [Door; 2] = [Door::Openai, Door::Anthropic];

    /// `openai` / `anthropic`.
    pub fn name(self) -> &'static str {
        match self {
            Door::Openai => "openai",
            Door::Anthropic => "anthropic",
        }
    }

    /// Parses `openai` / `anthropic`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.name() == s)
    }

    /// What of `usage` the door's format can carry (docs/server.md): OpenAI's usage has no
    /// cache writes (they count in `prompt_tokens`), Anthropic's no reasoning tokens (they
    /// count in `output_tokens`).
    pub fn carried(self, usage: &concord::Usage) -> concord::Usage {
        let mut u = *usage;
        match self {
            Door::Openai => {
                u.cache_write_tokens = None;
                u.cache_write_1h_tokens = None;
            }
            Door::Anthropic => u.reasoning_tokens = None,
        }
        u
    }

    /// concord's client for the door: for the OpenAI door, the one for any compatible server
    /// (it sends reasoning replay data back, which OpenAI's own refuses).
    fn client(self) -> Arc<dyn Provider> {
        let row = match self {
            Door::Openai => "openai-compatible",
            Door::Anthropic => "anthropic",
        };
        Arc::new(concord::builtin(row).expect("the door's client is a shipped provider"))
    }

    /// The base URL the door's client is given for a server at `origin`.
    pub fn base_url(self, origin: &str) -> String {
        match self {
            Door::Openai => format!("{origin}/v1"),
            Door::Anthropic => origin.to_owned(),
        }
    }
}

/// A server under test: what the served subject's calls and the SRV checks need of it.
/// concord's is [`concord_server_factory`]; the self-test's broken ones are in
/// `broken_server`.
pub trait ServerUnderTest: Send + Sync {
    /// `http://127.0.0.1:PORT`.
    fn origin(&self) -> &str;
    /// A tenant's key, without a budget.
    fn key(&self) -> &str;
    /// Registers the provider under test as `name`, its calls starting from `ctx`.
    fn register(&self, name: &str, ctx: RuntimeContext) -> std::result::Result<(), String>;
    /// A new tenant named `name` with a budget of `budget` per month (`None`: none); its key.
    fn tenant(
        &self,
        name: &str,
        budget: Option<concord_models::Money>,
    ) -> BoxFuture<'_, std::result::Result<String, String>>;
    /// Sets `tenant`'s own requests and tokens per minute (`None`: unlimited).
    fn rate_limits(
        &self,
        tenant: &str,
        rpm: Option<u64>,
        tpm: Option<u64>,
    ) -> BoxFuture<'_, std::result::Result<(), String>>;
    /// Gives `provider`/`model` these prices in the server's model database.
    fn price(
        &self,
        provider: &str,
        model: &str,
        prices: concord_models::Prices,
    ) -> BoxFuture<'_, std::result::Result<(), String>>;
    /// Every call record so far (pending ones written first).
    fn records(
        &self,
    ) -> BoxFuture<'_, std::result::Result<Vec<concord_models::CallRecord>, String>>;
    /// What the process logged so far (`None`: not captured).
    fn logs(&self) -> Option<String> {
        crate::served::captured_logs()
    }
    /// Whether the suite administers it (tenants, prices, records, health, metrics, logs): a
    /// gateway reached only from outside is not, and the checks that need that skip.
    fn administered(&self) -> bool {
        true
    }
    /// The model a call names at the server for `model` of the upstream registered as `name`.
    fn route_model(&self, name: &str, model: &str) -> String {
        format!("{name}/{model}")
    }
    /// The request as sent to the server for a call whose upstream context is `upstream`
    /// (`None`: unchanged). A gateway configured once marks it for the check's own mock.
    fn mark(&self, _request: &Request, _upstream: &RuntimeContext) -> Option<Request> {
        None
    }
}

/// Builds and starts a server under test for the provider under test.
pub type ServerFactory = Arc<
    dyn Fn(
            Arc<dyn Provider>,
        ) -> BoxFuture<'static, std::result::Result<Arc<dyn ServerUnderTest>, String>>
        + Send
        + Sync,
>;

/// A change to the server's router (the self-test's broken servers are concord's with one).
pub type RouterLayer = Arc<dyn Fn(axum::Router) -> axum::Router + Send + Sync>;

/// concord's server: [`concord_server::Server`] with an embedded model database in a fresh
/// folder, one tenant without a budget, serving on a loopback port until dropped.
pub fn concord_server_factory() -> ServerFactory {
    concord_server_factory_with(Arc::new(|r| r))
}

/// concord's server with its router changed by `layer`.
pub fn concord_server_factory_with(layer: RouterLayer) -> ServerFactory {
    Arc::new(move |provider| {
        let layer = layer.clone();
        Box::pin(async move {
            let s = start_concord_server(provider, layer).await?;
            Ok(Arc::new(s) as Arc<dyn ServerUnderTest>)
        })
    })
}

struct Folder(std::path::PathBuf);

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// concord's server, running.
pub(crate) struct ConcordServer {
    server: Arc<concord_server::Server>,
    provider: Arc<dyn Provider>,
    origin: String,
    key: String,
    _stop: tokio::sync::oneshot::Sender<()>,
    _folder: Folder,
}

pub(crate) async fn start_concord_server(
    provider: Arc<dyn Provider>,
    layer: RouterLayer,
) -> std::result::Result<ConcordServer, String> {
    capture_logs();
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("concord-served-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let folder = Folder(dir.clone());
    let database = concord_models::DatabaseSection {
        data_dir: Some(dir),
        refresh_secs: 0,
        ..concord_models::DatabaseSection::default()
    };
    let (models, store) = database
        .open_with_store(&|_| None)
        .await
        .map_err(|e| format!("the server's model database: {e}"))?;
    let tenants = concord_server::Tenants::open(store.pool().clone())
        .await
        .map_err(|e| format!("the server's tenants: {e}"))?;
    let key = tenants
        .create("conformance", None, None)
        .await
        .map_err(|e| format!("the server's tenant: {e}"))?;
    let registry =
        concord_registry::Registry::new(concord_registry::Options::new(reqwest::Client::new()));
    let server = Arc::new(concord_server::Server {
        registry,
        recorder: concord_models::Recorder::new(models.store().clone()),
        budgets: Arc::new(concord_server::budget::Budgets::new(models.store().clone())),
        models,
        tenants,
        settings: concord_server::ServerSection::default(),
        admin: None,
        users: Default::default(),
        shared: None,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("the server's port: {e}"))?;
    let origin = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = layer(server.router());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
    });
    Ok(ConcordServer {
        server,
        provider,
        origin,
        key,
        _stop: stop,
        _folder: folder,
    })
}

impl ServerUnderTest for ConcordServer {
    fn origin(&self) -> &str {
        &self.origin
    }

    fn key(&self) -> &str {
        &self.key
    }

    fn register(&self, name: &str, ctx: RuntimeContext) -> std::result::Result<(), String> {
        self.server
            .registry
            .register_instance(name, self.provider.clone(), ctx)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn tenant(
        &self,
        name: &str,
        budget: Option<concord_models::Money>,
    ) -> BoxFuture<'_, std::result::Result<String, String>> {
        let name = name.to_owned();
        Box::pin(async move {
            let budget = budget.map(|limit| concord_server::tenants::Budget {
                limit,
                period: concord_server::tenants::Period::Month,
            });
            self.server
                .tenants
                .create(&name, None, budget)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn rate_limits(
        &self,
        tenant: &str,
        rpm: Option<u64>,
        tpm: Option<u64>,
    ) -> BoxFuture<'_, std::result::Result<(), String>> {
        let tenant = tenant.to_owned();
        Box::pin(async move {
            self.server
                .tenants
                .set_rate_limits(&tenant, rpm, tpm)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn price(
        &self,
        provider: &str,
        model: &str,
        prices: concord_models::Prices,
    ) -> BoxFuture<'_, std::result::Result<(), String>> {
        let m = concord_models::Model::new(provider, model, prices, "conformance");
        Box::pin(async move { self.server.models.save(&m).await.map_err(|e| e.to_string()) })
    }

    fn records(
        &self,
    ) -> BoxFuture<'_, std::result::Result<Vec<concord_models::CallRecord>, String>> {
        Box::pin(async move {
            self.server.recorder.flush().await;
            self.server
                .models
                .store()
                .calls(0)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

/// What every server logged in this process since the first started (the last 4 MiB): the
/// SRV checks look for keys in it. Captured by a subscriber this module installs once, unless
/// the process has its own (then `None`).
pub fn captured_logs() -> Option<String> {
    let buf = LOGS.get()?.lock().ok()?;
    Some(String::from_utf8_lossy(&buf).into_owned())
}

static LOGS: std::sync::OnceLock<Mutex<Vec<u8>>> = std::sync::OnceLock::new();
const LOG_CAP: usize = 4 << 20;

#[derive(Clone, Copy)]
struct LogSink;

impl std::io::Write for LogSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Some(logs) = LOGS.get() {
            let mut buf = logs.lock().unwrap_or_else(|e| e.into_inner());
            if buf.len() + bytes.len() > LOG_CAP {
                let drop = (buf.len() + bytes.len() - LOG_CAP).min(buf.len());
                buf.drain(..drop);
            }
            buf.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use tracing_subscriber::layer::SubscriberExt;
        // Everything concord logs at debug and above; the HTTP and SQL crates only warnings.
        let filter = tracing_subscriber::filter::Targets::new()
            .with_default(tracing::Level::DEBUG)
            .with_target("hyper", tracing::Level::WARN)
            .with_target("hyper_util", tracing::Level::WARN)
            .with_target("h2", tracing::Level::WARN)
            .with_target("reqwest", tracing::Level::WARN)
            .with_target("sqlx", tracing::Level::WARN);
        let subscriber = tracing_subscriber::registry().with(filter).with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(|| LogSink),
        );
        if tracing::subscriber::set_global_default(subscriber).is_ok() {
            let _ = LOGS.set(Mutex::new(Vec::new()));
        }
    });
}

/// The provider a served subject calls: the door's client, aimed at a server that has the
/// provider under test registered for the call's upstream context.
pub struct ThroughServer {
    upstream: Arc<dyn Provider>,
    door: Door,
    client: Arc<dyn Provider>,
    factory: ServerFactory,
    state: tokio::sync::Mutex<Option<State>>,
    outside: bool,
}

struct State {
    /// The runtime the server runs on: a server started by another (a finished test's) is gone.
    runtime: tokio::runtime::Id,
    server: Arc<dyn ServerUnderTest>,
    names: Mutex<HashMap<String, String>>,
}

impl ThroughServer {
    /// `upstream` behind the server `factory` builds, called through `door`.
    pub fn new(upstream: Arc<dyn Provider>, door: Door, factory: ServerFactory) -> Self {
        Self {
            upstream,
            door,
            client: door.client(),
            factory,
            state: tokio::sync::Mutex::new(None),
            outside: false,
        }
    }

    /// As [`ThroughServer::new`], for a gateway configured once and reached only from outside
    /// (`crate::gateway`): calls keep their model, parameters and tools, but the upstream key,
    /// address and timeout are the gateway's own.
    pub fn outside(upstream: Arc<dyn Provider>, door: Door, factory: ServerFactory) -> Self {
        Self {
            outside: true,
            ..Self::new(upstream, door, factory)
        }
    }

    /// Whether the server is a gateway reached only from outside.
    pub fn is_outside(&self) -> bool {
        self.outside
    }

    /// The door.
    pub fn door(&self) -> Door {
        self.door
    }

    /// The server a call whose upstream context is `ctx` goes through, and the model to name
    /// there (`up-N/model`); `None` when `ctx` is incomplete (the client then fails it as the
    /// provider would, before anything is sent).
    pub async fn route(
        &self,
        ctx: &RuntimeContext,
    ) -> CallResult<Option<(Arc<dyn ServerUnderTest>, String)>> {
        let (Some(base), Some(model)) = (&ctx.base_url, &ctx.model) else {
            return Ok(None);
        };
        if ctx.credential.is_none() && ctx.credential_source.is_none() {
            return Ok(None);
        }
        let mut guard = self.state.lock().await;
        let runtime = tokio::runtime::Handle::current().id();
        if guard.as_ref().is_none_or(|s| s.runtime != runtime) {
            let server = (self.factory)(self.upstream.clone()).await.map_err(|e| {
                concord::Error::new(
                    concord::ErrorKind::InvalidConfig,
                    "concord-serve",
                    format!("the server did not start: {e}"),
                )
            })?;
            *guard = Some(State {
                runtime,
                server,
                names: Mutex::default(),
            });
        }
        let state = guard.as_ref().expect("set above");
        // What a registration fixes: where the vendor is, how it is reached, how long a call
        // may take. The model travels in the call; so do parameters (the client puts the
        // context's defaults into the body it sends).
        let mut template = RuntimeContext::new().base_url(base.clone());
        template.credential = ctx.credential.clone();
        template.credential_source = ctx.credential_source.clone();
        template.api_version = ctx.api_version.clone();
        template.headers = ctx.headers.clone();
        template.timeout = ctx.timeout;
        template.client = ctx.client.clone();
        // A call without a client fails at the client before it reaches the server; one with
        // must not share a registration made for one without.
        let identity = format!(
            "{base}\n{}\n{:?}\n{:?}\n{:?}\n{}\n{}",
            ctx.credential.as_ref().map(|c| c.expose()).unwrap_or(""),
            ctx.api_version,
            ctx.headers,
            ctx.timeout,
            ctx.credential_source.is_some(),
            ctx.client.is_some(),
        );
        let name = {
            let mut names = state.names.lock().expect("names");
            let next = names.len() + 1;
            match names.get(&identity) {
                Some(name) => name.clone(),
                None => {
                    let name = format!("up-{next}");
                    state.server.register(&name, template).map_err(|e| {
                        concord::Error::new(concord::ErrorKind::InvalidConfig, "concord-serve", e)
                    })?;
                    names.insert(identity, name.clone());
                    name
                }
            }
        };
        let model = state.server.route_model(&name, model);
        Ok(Some((state.server.clone(), model)))
    }

    /// The context the door's client is called with for a call whose upstream context is
    /// `ctx` (see [`route`](Self::route)).
    async fn client_context(
        &self,
        ctx: &RuntimeContext,
    ) -> CallResult<Option<(Arc<dyn ServerUnderTest>, RuntimeContext)>> {
        let Some((server, model)) = self.route(ctx).await? else {
            return Ok(None);
        };
        let mut out = RuntimeContext::new()
            .base_url(self.door.base_url(server.origin()))
            .credential(server.key().to_owned())
            .model(model);
        out.settings = ctx.settings.clone();
        // The server holds the call to the check's timeout (its registration has it); the
        // client waits longer, so what it sees is what the server did about a stall, and a
        // server that ignores the timeout still fails the check's bound.
        out.timeout = ctx.timeout.map(|t| t + std::time::Duration::from_secs(5));
        out.client = ctx.client.clone();
        Ok(Some((server, out)))
    }
}

/// What both can do.
fn both(a: Capabilities, b: Capabilities) -> Capabilities {
    Capabilities {
        streaming: a.streaming && b.streaming,
        tools: a.tools && b.tools,
        parallel_tools: a.parallel_tools && b.parallel_tools,
        tool_choice: a.tool_choice && b.tool_choice,
        json_schema: a.json_schema && b.json_schema,
        image_input: a.image_input && b.image_input,
        reasoning_options: a.reasoning_options && b.reasoning_options,
        reasoning_output: a.reasoning_output && b.reasoning_output,
        usage_in_streams: a.usage_in_streams && b.usage_in_streams,
        assistant_prefill: a.assistant_prefill && b.assistant_prefill,
    }
}

impl Provider for ThroughServer {
    /// The door's client: a caller of the server sees the provider it called.
    fn name(&self) -> &str {
        self.client.name()
    }

    fn capabilities(&self) -> Capabilities {
        both(self.upstream.capabilities(), self.client.capabilities())
    }

    fn generate<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, CallResult<Response>> {
        Box::pin(async move {
            match self.client_context(ctx).await? {
                Some((server, c)) => match server.mark(request, ctx) {
                    Some(marked) => self.client.generate(&marked, &c).await,
                    None => self.client.generate(request, &c).await,
                },
                None => self.client.generate(request, ctx).await,
            }
        })
    }

    fn stream<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, CallResult<EventStream>> {
        Box::pin(async move {
            match self.client_context(ctx).await? {
                Some((server, c)) => match server.mark(request, ctx) {
                    Some(marked) => self.client.stream(&marked, &c).await,
                    None => self.client.stream(request, &c).await,
                },
                None => self.client.stream(request, ctx).await,
            }
        })
    }
}
