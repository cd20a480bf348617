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
        let mut u = usage.clone();
        match self {
            Door::Openai => {
                u.cache_write_tokens = None;
                u.cache_write_1h_tokens = None;
            }
            Door::Anthropic => u.reasoning_tokens = None,
        }
        u
    }

    /// concord's client for the door.
    fn client(self) -> Arc<dyn Provider> {
        let row = self.name();
        Arc::new(concord::builtin(row).expect("the door's client is a shipped provider"))
    }

    /// The base URL the door's client is given for a server at `origin`.
    fn base_url(self, origin: &str) -> String {
        match self {
            Door::Openai => format!("{origin}/v1"),
            Door::Anthropic => origin.to_owned(),
        }
    }
}

/// Builds and starts the server a served subject calls through. The default is concord's
/// ([`concord_server_factory`]); the self-test passes deliberately broken ones.
pub type ServerFactory =
    Arc<dyn Fn(Upstreams) -> BoxFuture<'static, std::result::Result<Served, String>> + Send + Sync>;

/// What a started server gives the subject: where it listens, the key it accepts, and how to
/// put a new upstream context behind it.
pub struct Served {
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    /// A tenant's key.
    pub key: String,
    /// Registers the provider under test as `name` with the context template `ctx`.
    pub register:
        Box<dyn Fn(&str, RuntimeContext) -> std::result::Result<(), String> + Send + Sync>,
    /// Keeps the server's parts alive (and removes its folder when dropped).
    pub keep: Box<dyn std::any::Any + Send + Sync>,
}

/// The provider under test, which a server registers under each upstream name.
#[derive(Clone)]
pub struct Upstreams {
    /// The provider under test.
    pub provider: Arc<dyn Provider>,
}

/// concord's server: [`concord_server::Server`] with an embedded model database in a fresh
/// folder, one tenant without a budget, serving on a loopback port until dropped.
pub fn concord_server_factory() -> ServerFactory {
    Arc::new(|up: Upstreams| Box::pin(start_concord_server(up)))
}

struct Folder(std::path::PathBuf);

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Running {
    _stop: tokio::sync::oneshot::Sender<()>,
    _folder: Folder,
}

async fn start_concord_server(up: Upstreams) -> std::result::Result<Served, String> {
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
        registry: registry.clone(),
        recorder: concord_models::Recorder::new(models.store().clone()),
        budgets: Arc::new(concord_server::budget::Budgets::new(models.store().clone())),
        models,
        tenants,
        settings: concord_server::ServerSection::default(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("the server's port: {e}"))?;
    let origin = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.serve(listener, async move {
        let _ = stopped.await;
    }));
    let provider = up.provider;
    Ok(Served {
        origin,
        key,
        register: Box::new(move |name, ctx| {
            registry
                .register_instance(name, provider.clone(), ctx)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }),
        keep: Box::new(Running {
            _stop: stop,
            _folder: folder,
        }),
    })
}

/// The provider a served subject calls: the door's client, aimed at a server that has the
/// provider under test registered for the call's upstream context.
pub struct ThroughServer {
    upstream: Arc<dyn Provider>,
    door: Door,
    client: Arc<dyn Provider>,
    factory: ServerFactory,
    state: tokio::sync::Mutex<Option<State>>,
}

struct State {
    /// The runtime the server runs on: a server started by another (a finished test's) is gone.
    runtime: tokio::runtime::Id,
    served: Arc<Served>,
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
        }
    }

    /// The context the door's client is called with for a call whose upstream context is
    /// `ctx`; `None` when `ctx` is incomplete (the client then fails it as the provider would,
    /// before anything is sent).
    async fn client_context(&self, ctx: &RuntimeContext) -> CallResult<Option<RuntimeContext>> {
        let (Some(base), Some(model)) = (&ctx.base_url, &ctx.model) else {
            return Ok(None);
        };
        if ctx.credential.is_none() && ctx.credential_source.is_none() {
            return Ok(None);
        }
        let mut guard = self.state.lock().await;
        let runtime = tokio::runtime::Handle::current().id();
        if guard.as_ref().is_none_or(|s| s.runtime != runtime) {
            let served = (self.factory)(Upstreams {
                provider: self.upstream.clone(),
            })
            .await
            .map_err(|e| {
                concord::Error::new(
                    concord::ErrorKind::InvalidConfig,
                    "concord-serve",
                    format!("the server did not start: {e}"),
                )
            })?;
            *guard = Some(State {
                runtime,
                served: Arc::new(served),
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
        let identity = format!(
            "{base}\n{}\n{:?}\n{:?}\n{:?}\n{}",
            ctx.credential.as_ref().map(|c| c.expose()).unwrap_or(""),
            ctx.api_version,
            ctx.headers,
            ctx.timeout,
            ctx.credential_source.is_some(),
        );
        let name = {
            let mut names = state.names.lock().expect("names");
            let next = names.len() + 1;
            match names.get(&identity) {
                Some(name) => name.clone(),
                None => {
                    let name = format!("up-{next}");
                    (state.served.register)(&name, template).map_err(|e| {
                        concord::Error::new(concord::ErrorKind::InvalidConfig, "concord-serve", e)
                    })?;
                    names.insert(identity, name.clone());
                    name
                }
            }
        };
        let mut out = RuntimeContext::new()
            .base_url(self.door.base_url(&state.served.origin))
            .credential(state.served.key.clone())
            .model(format!("{name}/{model}"));
        out.settings = ctx.settings.clone();
        out.timeout = ctx.timeout;
        out.client = ctx.client.clone();
        Ok(Some(out))
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
                Some(c) => self.client.generate(request, &c).await,
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
                Some(c) => self.client.stream(request, &c).await,
                None => self.client.stream(request, ctx).await,
            }
        })
    }
}
