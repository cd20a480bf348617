//! What the suite runs checks on: a [`Subject`] (a provider, how it reaches its mock vendor and
//! its live vendor, and the dispatcher, registry and runtimes store its DSP, REG and CTX checks
//! drive), and the [`Mode`] that says where the vendors come from. The runner (`suite.rs`) and
//! each check's context (`cx.rs`) both read them; neither is read by them.

use std::path::PathBuf;
use std::sync::Arc;

use concord::env::EnvVar;
use concord::{Api, Descriptor, Provider, RuntimeContext};

use crate::Protocol;

/// A provider under test.
#[derive(Clone)]
pub struct Subject {
    /// The name in reports.
    pub name: String,
    /// The wire protocol it speaks (which mock vendor it is run against).
    pub protocol: Protocol,
    /// The provider value.
    pub provider: Arc<dyn Provider>,
    /// The model named in calls against mocks.
    pub model: String,
    /// How the mock is addressed and what auth it checks, for providers that reuse a protocol at
    /// another address or with other auth (Azure's `api-key`, a vendor's own header).
    pub mock: MockSetup,
    /// For live runs: the variable with its key, its base URL and its live model.
    pub live: Option<Live>,
    /// The dispatcher the DSP checks wrap the provider in (concord-dispatch's by default; yours
    /// to test your own).
    pub dispatch: DispatchFactory,
    /// The provider registry the REG checks register the provider in (concord-registry's by
    /// default).
    pub registry: crate::under_test::RegistryFactory,
    /// The runtimes store the CTX checks keep users' runtimes in (concord-registry's by default).
    pub runtimes: crate::under_test::RuntimesFactory,
    /// The model database the CAT checks meter the provider's calls with (concord-models' by
    /// default).
    pub models: crate::under_test::ModelsFactory,
    /// The server door its calls come through, for a subject behind a server
    /// ([`Subject::through_server`]); `None` for a provider called directly.
    pub served: Option<Arc<crate::served::ThroughServer>>,
}

/// A dispatcher under test, built around a provider.
pub struct Dispatched {
    /// The provider with the dispatcher's layers around it.
    pub provider: Arc<dyn Provider>,
    /// Its breaker's state changes, when it reports them (DSP-005 checks their order).
    pub events: Option<tokio::sync::broadcast::Receiver<concord_dispatch::BreakerEvent>>,
}

/// Builds a dispatcher around a provider from concord-dispatch's settings; `Err` says why not.
pub type DispatchFactory = Arc<
    dyn Fn(Arc<dyn Provider>, concord_dispatch::DispatchConfig) -> Result<Dispatched, String>
        + Send
        + Sync,
>;

/// concord-dispatch's [`Dispatcher`](concord_dispatch::Dispatcher).
pub fn default_dispatch() -> DispatchFactory {
    Arc::new(|provider, config| {
        let d =
            concord_dispatch::Dispatcher::from_arc(provider, config).map_err(|e| e.to_string())?;
        let events = d.events();
        Ok(Dispatched {
            provider: Arc::new(d),
            events: Some(events),
        })
    })
}

/// How a subject reaches its mock vendor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MockSetup {
    /// Where the base URL sits on the mock's host (`/v1`); `None`: where the protocol's official
    /// SDK puts it.
    pub base_path: Option<String>,
    /// The header the mock requires the key in (`authorization` for `Bearer`); `None`: the
    /// protocol's own.
    pub key_header: Option<String>,
}

/// Builds the context that reaches a real vendor from the environment.
type Connect = dyn Fn(reqwest::Client) -> Result<RuntimeContext, String> + Send + Sync;

/// Reads a variable: from the overrides given, else the environment (with its default).
type Lookup = dyn Fn(&EnvVar) -> Option<String> + Send + Sync;

/// How to reach the real vendor: where its live model comes from, and how its credential, base
/// URL and whatever else it needs (an api-version, a token source) are found in the environment.
#[derive(Clone)]
pub struct Live {
    /// The model variable (with its default).
    pub model_var: EnvVar,
    lookup: Arc<Lookup>,
    connect: Arc<Connect>,
    /// The first connection, kept for the run: every check's calls then share one token
    /// source, so a run asks the token endpoint once, not once per check.
    connected: Arc<std::sync::OnceLock<Result<RuntimeContext, String>>>,
}

fn from_env() -> Arc<Lookup> {
    Arc::new(|var: &EnvVar| var.get_or_default())
}

impl Live {
    /// A vendor reached with a key and a base URL from two variables.
    pub fn from_vars(key_var: EnvVar, base_url_var: EnvVar, model_var: EnvVar) -> Self {
        let lookup = from_env();
        let read = lookup.clone();
        Self {
            model_var,
            lookup,
            connected: Arc::default(),
            connect: Arc::new(move |client| {
                let key = read(&key_var).ok_or_else(|| format!("{} not set", key_var.name))?;
                let base =
                    read(&base_url_var).ok_or_else(|| format!("{} not set", base_url_var.name))?;
                Ok(RuntimeContext::new()
                    .credential(key)
                    .base_url(base)
                    .client(client))
            }),
        }
    }

    /// A vendor reached the way its descriptor row finds it in the environment: a key, or the
    /// token sources of Azure (Entra ID) and Vertex (a service account), its api-version.
    pub fn from_descriptor(d: Descriptor) -> Self {
        Self::from_descriptor_with(d, Vec::new())
    }

    /// As [`Live::from_descriptor`], with some variables given here instead of the environment
    /// (`OPENAI_COMPATIBLE_BASE_URL` and the live model, for a run against one server).
    pub fn from_descriptor_with(d: Descriptor, overrides: Vec<(String, String)>) -> Self {
        let lookup: Arc<Lookup> = Arc::new(move |var: &EnvVar| {
            overrides
                .iter()
                .find(|(name, _)| name == var.name)
                .map(|(_, value)| value.clone())
                .or_else(|| var.get_or_default())
        });
        let read = lookup.clone();
        Self {
            model_var: d.live_model,
            lookup,
            connected: Arc::default(),
            // The one way every caller reaches a shipped provider (concord's
            // `Connection` + `Descriptor::connect`). Behind the enterprise gateway the
            // provider itself changes, which a subject's fixed provider cannot follow: say so.
            connect: Arc::new(move |client| {
                let c = concord::descriptor::Connection::from_vars(&d, &|var: &EnvVar| read(var))
                    .map_err(|e| e.message)?;
                if c.gateway.is_some() {
                    return Err("live mode does not run behind the enterprise AI gateway: unset GENAI_PLATFORM_ENABLED to test the vendor directly".into());
                }
                d.connect(&c, client)
                    .map(|(_, ctx)| ctx)
                    .map_err(|e| e.message)
            }),
        }
    }

    /// The live model; `Err` names the variable to set.
    pub fn model(&self) -> Result<String, String> {
        (self.lookup)(&self.model_var).ok_or_else(|| format!("{} not set", self.model_var.name))
    }

    /// The context that reaches the vendor (no model yet); `Err` says which variables to set.
    /// Built once from the environment and shared by the run's checks.
    pub fn connect(&self, client: reqwest::Client) -> Result<RuntimeContext, String> {
        self.connected
            .get_or_init(|| (self.connect)(client))
            .clone()
    }
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("model_var", &self.model_var.name)
            .finish_non_exhaustive()
    }
}

/// The harness protocol that carries a concord API.
pub fn protocol_of(api: Api) -> Protocol {
    match api {
        Api::Chat => Protocol::Openai,
        Api::Responses => Protocol::OpenaiResponses,
        Api::Messages => Protocol::Anthropic,
        Api::GenerateContent => Protocol::Gemini,
    }
}

impl Subject {
    /// A provider of yours, tested against the mock vendor of `protocol`.
    pub fn new(
        name: impl Into<String>,
        protocol: Protocol,
        provider: impl Provider + 'static,
    ) -> Self {
        Self {
            name: name.into(),
            protocol,
            provider: Arc::new(provider),
            model: "conformance-model".into(),
            mock: MockSetup::default(),
            live: None,
            dispatch: default_dispatch(),
            registry: crate::under_test::default_registry(),
            runtimes: crate::under_test::default_runtimes(),
            models: crate::under_test::default_models(),
            served: None,
        }
    }

    /// The same provider, its DSP checks run through `dispatch` instead.
    pub fn with_dispatch(mut self, dispatch: DispatchFactory) -> Self {
        self.dispatch = dispatch;
        self
    }

    /// The same provider, its REG checks run against `registry` instead.
    pub fn with_registry(mut self, registry: crate::under_test::RegistryFactory) -> Self {
        self.registry = registry;
        self
    }

    /// The same provider, its CAT checks run against `models` instead.
    pub fn with_models(mut self, models: crate::under_test::ModelsFactory) -> Self {
        self.models = models;
        self
    }

    /// The same provider, its CTX checks run against `runtimes` instead.
    pub fn with_runtimes(mut self, runtimes: crate::under_test::RuntimesFactory) -> Self {
        self.runtimes = runtimes;
        self
    }

    /// The same provider, reachable live: where its key, base URL and live model come from.
    pub fn with_live(mut self, live: Live) -> Self {
        self.live = Some(live);
        self
    }

    /// The same provider behind a server (`concord serve`'s by default: see
    /// [`crate::served`]), called through `door`: every check then judges the server as much
    /// as the provider. Named `{name}@serve-{door}`; not live (live mode reaches a server as
    /// an `openai-compatible` vendor).
    pub fn through_server(
        self,
        door: crate::served::Door,
        factory: crate::served::ServerFactory,
    ) -> Self {
        let through = crate::served::ThroughServer::new(self.provider.clone(), door, factory);
        self.behind(through, "serve")
    }

    /// The same provider behind a gateway reached only from outside (`crate::gateway`),
    /// called through `door`: named `{name}@gateway-{door}`; the checks that administer a
    /// server skip.
    pub fn through_gateway(
        self,
        door: crate::served::Door,
        factory: crate::served::ServerFactory,
    ) -> Self {
        let through = crate::served::ThroughServer::outside(self.provider.clone(), door, factory);
        self.behind(through, "gateway")
    }

    fn behind(mut self, through: crate::served::ThroughServer, what: &str) -> Self {
        let through = Arc::new(through);
        self.name = format!("{}@{what}-{}", self.name, through.door().name());
        self.provider = through.clone();
        self.live = None;
        self.served = Some(through);
        self
    }

    /// The door a served subject's calls come in by (`None`: called directly).
    pub fn door(&self) -> Option<crate::served::Door> {
        self.served.as_ref().map(|s| s.door())
    }

    /// The same provider, reaching its mock as `setup` says.
    pub fn with_mock(mut self, setup: MockSetup) -> Self {
        self.mock = setup;
        self
    }

    /// A provider described by a descriptor row (one of concord's, or one of yours), speaking
    /// `api`: named after the row, plus `-{api}` when it is not the row's default API
    /// (`openai-responses`). `None` when the row does not speak `api` or the build lacks it.
    pub fn from_descriptor(d: &Descriptor, api: Api) -> Option<Self> {
        let provider = d.provider(Some(api)).ok()?;
        let name = if api == d.apis[0] {
            d.name.to_owned()
        } else {
            format!("{}-{}", d.name, api.name())
        };
        Some(Self {
            name,
            protocol: protocol_of(api),
            provider: Arc::new(provider),
            model: "conformance-model".into(),
            mock: MockSetup {
                base_path: Some(d.endpoint.base_path().to_owned()),
                key_header: Some(d.auth.key_header().to_owned()),
            },
            live: Some(Live::from_descriptor(*d)),
            dispatch: default_dispatch(),
            registry: crate::under_test::default_registry(),
            runtimes: crate::under_test::default_runtimes(),
            models: crate::under_test::default_models(),
            served: None,
        })
    }

    /// The shipped provider `name` speaking `api` (its default when `None`).
    pub fn builtin(name: &str, api: Option<Api>) -> Option<Self> {
        let d = concord::descriptor::get(name)?;
        Self::from_descriptor(d, api.unwrap_or(d.apis[0]))
    }

    /// One reference provider per wire format: openai, openai-responses, anthropic, gemini.
    pub fn defaults() -> Vec<Self> {
        [
            ("openai", Api::Chat),
            ("openai", Api::Responses),
            ("anthropic", Api::Messages),
            ("gemini", Api::GenerateContent),
        ]
        .into_iter()
        .filter_map(|(name, api)| Self::builtin(name, Some(api)))
        .collect()
    }

    /// Every shipped provider with every API it speaks.
    pub fn all_builtin() -> Vec<Self> {
        concord::descriptor::DESCRIPTORS
            .iter()
            .flat_map(|d| {
                d.apis
                    .iter()
                    .filter_map(move |api| Self::from_descriptor(d, *api))
            })
            .collect()
    }
}

/// Where the vendors come from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    /// Mock vendors from the harness: no keys, loopback only.
    #[default]
    Mock,
    /// The real vendors, keys from the environment.
    Live,
    /// Live, writing redacted cassettes under the folder.
    Record(PathBuf),
    /// Answers from the cassettes under the folder.
    Replay(PathBuf),
}

impl Mode {
    /// Whether the vendor is a mock from the harness.
    pub fn is_mock(&self) -> bool {
        matches!(self, Self::Mock)
    }
}
