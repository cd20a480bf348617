//! Mock vendors over real HTTP on `127.0.0.1` with an ephemeral port: one line to start from a
//! test, many in parallel, each with its own request log.
//!
//! `wiremock` serves buffered answers well but cannot stream chunk by chunk with timing or cut
//! a connection mid-stream, so the mock is a small axum server instead.

mod auto;
mod respond;
pub mod synth;
pub mod validate;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, Method, Uri};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};

use crate::error::Result;
use crate::observe::{Observations, RecordedRequest};
use crate::scenario::{body_bytes, Fixtures, Protocol, Scenario};
use crate::serve::Server;
pub use auto::{AUTO, CONTEXT_TOKENS};
use respond::Substitutions;
pub use validate::MISSING_MODEL;

/// The largest request body accepted (Anthropic's documented request limit is 32 MB).
const BODY_LIMIT: usize = 32 * 1024 * 1024;

/// The request header that picks a scenario for one request, overriding the default.
pub const SCENARIO_HEADER: &str = "x-mock-scenario";

/// How to run a mock vendor.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// The protocol it speaks.
    pub protocol: Protocol,
    /// The scenario served when a request does not name one.
    pub scenario: String,
    /// Where scenarios come from.
    pub fixtures: Fixtures,
    /// Accept only this credential (any non-empty one when `None`).
    pub expected_key: Option<String>,
    /// The one header the key must arrive in (`authorization` meaning `Bearer`); `None` for the
    /// protocol's own (`Bearer` for OpenAI, `x-api-key` or `Bearer` for Anthropic,
    /// `x-goog-api-key` for Gemini). Set it to stand for a provider that reuses a protocol with
    /// other auth: Azure's `api-key`, Vertex's bearer token.
    pub key_header: Option<String>,
    /// The port (0: any free port).
    pub port: u16,
    /// How long the vendor takes before its answer begins (a buffered body, or a stream's
    /// first chunk): what makes concurrent calls overlap, for tests of concurrency caps.
    pub latency: std::time::Duration,
    /// The models `GET …/models` lists (OpenAI's list, which OpenAI-compatible clients read to
    /// find a server's model). Every model but [`MISSING_MODEL`] is answered.
    pub models: Vec<String>,
    /// How many of the most recent requests [`MockVendor::requests`] keeps (default
    /// [`DEFAULT_REQUEST_LOG`]; 0 keeps none, only counts). Bounded so a mock serving a load test
    /// stays flat in memory: a small request costs about 2.4 KB in the log, a large prompt its
    /// size.
    pub request_log: usize,
}

/// The requests a mock keeps by default: more than any check observes, few enough that the log
/// stays within a few megabytes for small requests.
pub const DEFAULT_REQUEST_LOG: usize = 1024;

impl MockConfig {
    /// A mock of `protocol` serving scenario `text`.
    pub fn new(protocol: Protocol) -> Self {
        Self {
            protocol,
            scenario: "text".into(),
            fixtures: Fixtures::default(),
            expected_key: None,
            key_header: None,
            port: 0,
            latency: std::time::Duration::ZERO,
            models: vec!["concord-mock-model".into()],
            request_log: DEFAULT_REQUEST_LOG,
        }
    }

    /// Keep the most recent `n` requests (0: none, only count them).
    pub fn request_log(mut self, n: usize) -> Self {
        self.request_log = n;
        self
    }

    /// Serve `scenario` by default.
    pub fn scenario(mut self, scenario: impl Into<String>) -> Self {
        self.scenario = scenario.into();
        self
    }

    /// Accept only `key`.
    pub fn expect_key(mut self, key: impl Into<String>) -> Self {
        self.expected_key = Some(key.into());
        self
    }

    /// Require the key in `header` (`authorization` for `Bearer`).
    pub fn key_header(mut self, header: impl Into<String>) -> Self {
        self.key_header = Some(header.into().to_ascii_lowercase());
        self
    }

    /// Read scenarios from `fixtures`.
    pub fn fixtures(mut self, fixtures: Fixtures) -> Self {
        self.fixtures = fixtures;
        self
    }

    /// Wait `latency` before every answer.
    pub fn latency(mut self, latency: std::time::Duration) -> Self {
        self.latency = latency;
        self
    }

    /// List `models` at `GET …/models`.
    pub fn models(mut self, models: Vec<String>) -> Self {
        self.models = models;
        self
    }

    /// Listen on `port`.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }
}

struct Shared {
    config: MockConfig,
    scenario: RwLock<String>,
    /// Scenarios for the next requests, in order, before the default again.
    next: std::sync::Mutex<std::collections::VecDeque<String>>,
    obs: Arc<Observations>,
}

/// A running mock vendor. Dropping it stops the server.
pub struct MockVendor {
    server: Server,
    shared: Arc<Shared>,
}

impl MockVendor {
    /// Starts a mock of `protocol` serving scenario `scenario`.
    pub async fn start(protocol: Protocol, scenario: &str) -> Result<Self> {
        Self::start_with(MockConfig::new(protocol).scenario(scenario)).await
    }

    /// Starts a mock with `config`.
    pub async fn start_with(config: MockConfig) -> Result<Self> {
        // Fail at start, not at the first request, when the scenario does not exist.
        load(&config.fixtures, config.protocol, &config.scenario)?;
        let (listener, addr) = crate::serve::bind(config.port).await?;
        let shared = Arc::new(Shared {
            scenario: RwLock::new(config.scenario.clone()),
            next: Default::default(),
            obs: Observations::new(config.request_log),
            config,
        });
        let app = axum::Router::new()
            .fallback(handle)
            // Vendors take prompts far beyond axum's 2 MB default; `auto` answers an oversized
            // one with the vendor's context-length error, as they do.
            .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
            .with_state(shared.clone());
        let counting = CountingListener {
            inner: listener,
            obs: shared.obs.clone(),
        };
        Ok(Self {
            server: Server::spawn(counting, addr, app),
            shared,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The base URL an official SDK of the protocol is configured with: with `/v1` for the
    /// OpenAI APIs, the host root otherwise. (A provider whose base URL sits elsewhere on the
    /// host, Vertex's, takes [`MockVendor::url`] plus its own path: routes match on the
    /// operation at the end of the path.)
    pub fn base_url(&self) -> String {
        format!(
            "{}{}",
            self.url(),
            self.shared.config.protocol.sdk_base_path()
        )
    }

    /// The protocol.
    pub fn protocol(&self) -> Protocol {
        self.shared.config.protocol
    }

    /// Serve `scenario` from now on.
    pub fn set_scenario(&self, scenario: &str) -> Result<()> {
        load(
            &self.shared.config.fixtures,
            self.shared.config.protocol,
            scenario,
        )?;
        *self.shared.scenario.write().expect("scenario lock") = scenario.to_owned();
        Ok(())
    }

    /// The next requests get these scenarios, one each in order, then the default again: a
    /// vendor that fails twice then recovers is `["error_server_error", "error_server_error"]`.
    pub fn queue_scenarios(&self, scenarios: &[&str]) -> Result<()> {
        for s in scenarios {
            load(&self.shared.config.fixtures, self.shared.config.protocol, s)?;
        }
        self.shared
            .next
            .lock()
            .expect("scenario queue lock")
            .extend(scenarios.iter().map(|s| (*s).to_owned()));
        Ok(())
    }

    /// What reached the wire.
    pub fn observations(&self) -> &Observations {
        &self.shared.obs
    }

    /// The requests received so far (the most recent [`MockConfig::request_log`] of them).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.obs.requests()
    }
}

/// A listener that counts accepted connections.
struct CountingListener {
    inner: TcpListener,
    obs: Arc<Observations>,
}

impl axum::serve::Listener for CountingListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((io, addr)) => {
                    self.obs.connection_opened();
                    return (io, addr);
                }
                // Transient accept errors (EMFILE…) are retried, as axum's own listener does.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// The vendor's model list at `GET …/models` (how clients find the models a server serves),
/// behind the vendor's key check; `None` for every other request. The shapes are each
/// vendor's list: OpenAI's `{"object": "list", "data": [{"id", "object": "model", …}]}`
/// (API reference, "List models"), Anthropic's paged `{"data": [{"type": "model", "id",
/// "display_name", "created_at"}], "has_more", "first_id", "last_id"}` ("List Models"), and
/// Gemini's `{"models": [{"name": "models/…", "supportedGenerationMethods", …}]}`
/// (`models.list`).
fn list_models(
    config: &MockConfig,
    method: &Method,
    path: &str,
    incoming: &validate::Incoming<'_>,
) -> Option<Response> {
    if !(method == Method::GET && path.ends_with("/models")) {
        return None;
    }
    if let Err(refused) = validate::authenticated(config.protocol, incoming) {
        return Some(respond::buffered(
            refused.status,
            serde_json::to_vec(&refused.body).expect("serialisable"),
        ));
    }
    let ids = config.models.iter();
    let body = match config.protocol {
        Protocol::Openai | Protocol::OpenaiResponses => serde_json::json!({
            "object": "list",
            "data": ids.map(|id| serde_json::json!({"id": id, "object": "model", "created": 1_700_000_000, "owned_by": "concord-mock"})).collect::<Vec<_>>(),
        }),
        Protocol::Anthropic => serde_json::json!({
            "data": ids.map(|id| serde_json::json!({"type": "model", "id": id, "display_name": id, "created_at": "2025-01-01T00:00:00Z"})).collect::<Vec<_>>(),
            "has_more": false,
            "first_id": config.models.first(),
            "last_id": config.models.last(),
        }),
        Protocol::Gemini => serde_json::json!({
            "models": ids.map(|id| serde_json::json!({
                "name": format!("models/{id}"),
                "displayName": id,
                "inputTokenLimit": CONTEXT_TOKENS,
                "outputTokenLimit": 65_536,
                "supportedGenerationMethods": ["generateContent", "countTokens"],
            })).collect::<Vec<_>>(),
        }),
    };
    Some(respond::buffered(
        200,
        serde_json::to_vec(&body).expect("serialisable"),
    ))
}

/// A scenario folder, or an `error_<name>` row of the error table.
enum Loaded {
    Scenario(Box<Scenario>),
    Error(crate::scenario::ErrorCase),
}

fn load(fixtures: &Fixtures, protocol: Protocol, name: &str) -> Result<Loaded> {
    if name == AUTO {
        // Picked per request; the text answer stands in when checking that the name loads.
        return load(fixtures, protocol, "text");
    }
    if let Some(case) = name.strip_prefix("error_") {
        if let Some(c) = fixtures
            .error_cases(protocol)?
            .into_iter()
            .find(|c| c.name == case)
        {
            return Ok(Loaded::Error(c));
        }
    }
    Ok(Loaded::Scenario(Box::new(
        fixtures.scenario(protocol, name)?,
    )))
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answering = shared.obs.answering();
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let protocol = shared.config.protocol;
    // Recorded on arrival, before the vendor's latency: a call the client drops while waiting
    // for the answer has still reached the vendor.
    let credential = validate::Incoming {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query(),
        header: &header,
        body: &parsed,
        expected_key: shared.config.expected_key.as_deref(),
        key_header: shared.config.key_header.as_deref(),
    }
    .key(validate::key_headers(protocol));
    shared.obs.record(|| RecordedRequest {
        method: method.as_str().to_owned(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers: headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        credential: credential.clone(),
        body: parsed.clone(),
        body_bytes: body.len(),
        at: shared.obs.since_start(),
    });
    if !shared.config.latency.is_zero() {
        tokio::time::sleep(shared.config.latency).await;
    }
    // Made again after the wait: it borrows through a `dyn Fn`, which is not `Send`.
    let incoming = validate::Incoming {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query(),
        header: &header,
        body: &parsed,
        expected_key: shared.config.expected_key.as_deref(),
        key_header: shared.config.key_header.as_deref(),
    };
    if let Some(listing) = list_models(&shared.config, &method, uri.path(), &incoming) {
        return listing;
    }
    let route = match validate::validate(protocol, &incoming) {
        Ok(route) => route,
        Err(rejection) => {
            return respond::buffered(
                rejection.status,
                serde_json::to_vec(&rejection.body).expect("serialisable"),
            )
        }
    };
    let queued = || shared.next.lock().expect("scenario queue lock").pop_front();
    let mut name = header(SCENARIO_HEADER)
        .or_else(queued)
        .unwrap_or_else(|| shared.scenario.read().expect("scenario lock").clone());
    let mut prompt = route.prompt.clone();
    let picked = name == AUTO;
    if picked {
        let pick = auto::pick(protocol, &parsed, body.len());
        name = pick.scenario.to_owned();
        prompt = pick.prompt.unwrap_or(prompt);
    }
    let fixtures = &shared.config.fixtures;
    let loaded = match load(fixtures, protocol, &name) {
        Ok(l) => l,
        Err(e) => return respond::buffered(500, format!("mock vendor: {e}").into_bytes()),
    };
    let (tool_name, json) = auto::made_up(protocol, &parsed, &name);
    // Answering as the vendor would, the mock answers as the model asked for: vendors echo the
    // requested model (or its dated snapshot) in every answer. Named scenarios keep the
    // fixture's, which their checks expect.
    let renamed_model = match &loaded {
        Loaded::Scenario(sc) if picked => sc
            .generate_body
            .as_deref()
            .and_then(|b| serde_json::from_slice::<Value>(b).ok())
            .and_then(|b| {
                b.get("model")
                    .or_else(|| b.get("modelVersion"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .filter(|_| !route.model.is_empty())
            .map(|fixture| (fixture, route.model.clone())),
        _ => None,
    };
    let subs = Substitutions {
        renamed_model,
        model: route.model.clone(),
        prompt,
        credential: credential.unwrap_or_default(),
        tool_name,
        json: Some(json),
    };
    match loaded {
        Loaded::Error(case) => {
            let spec = case.response();
            let body = body_bytes(&spec, fixtures.root()).unwrap_or_default();
            respond::with_headers(
                respond::buffered(spec.status, subs.apply(&body)),
                &spec.headers,
            )
        }
        Loaded::Scenario(sc) => match (route.stream, &sc.file.stream, &sc.stream_bytes) {
            (true, Some(spec), Some(bytes)) => {
                let mut bytes = subs.apply(bytes);
                // A fault cuts at a byte offset of the file as written; leave those whole.
                let asked_usage = parsed["stream_options"]["include_usage"] == true;
                if protocol == Protocol::Openai && !asked_usage && spec.cut_at.is_none() {
                    bytes = respond::without_stream_usage(&bytes);
                }
                respond::streamed(spec, bytes, shared.obs.clone(), answering)
            }
            _ => match (&sc.file.generate, &sc.generate_body) {
                (Some(spec), Some(body)) => respond::with_headers(
                    respond::buffered(spec.status, subs.apply(body)),
                    &spec.headers,
                ),
                _ => respond::buffered(
                    500,
                    format!(
                        "mock vendor: scenario {name} has no {} answer",
                        if route.stream {
                            "streamed"
                        } else {
                            "non-streamed"
                        }
                    )
                    .into_bytes(),
                ),
            },
        },
    }
}
