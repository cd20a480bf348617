//! The suite: which providers, which checks, which mode; running them and collecting a report.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use concord::env::EnvVar;
use concord::{Api, Descriptor, Provider, RuntimeContext};
use concord_harness::Fixtures;
use futures_util::StreamExt;

use crate::checks::{Check, CHECKS};
use crate::cx::Cx;
use crate::outcome::{CheckResult, Outcome};
use crate::report::Report;
use crate::Protocol;

/// The longest one check may run before it fails as hung.
const CHECK_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

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

/// Which providers and checks to run. Empty lists select everything.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Provider names.
    pub providers: Vec<String>,
    /// Check id patterns with `*` wildcards (`TOOL-*`).
    pub checks: Vec<String>,
    /// Families (`SL`).
    pub families: Vec<String>,
    /// Tags: `live` (checks that can run against a live server), `mock` (checks that need the
    /// mock vendor: they observe the wire or inject faults).
    pub tags: Vec<String>,
}

fn glob(pattern: &str, id: &str) -> bool {
    globset::Glob::new(&pattern.to_ascii_uppercase())
        .map(|g| g.compile_matcher().is_match(id))
        .unwrap_or(false)
}

impl Selection {
    fn wants_provider(&self, name: &str) -> bool {
        self.providers.is_empty() || self.providers.iter().any(|p| p == name)
    }

    fn wants_check(&self, check: &Check) -> bool {
        let tagged = |tag: &str| match tag.to_ascii_lowercase().as_str() {
            "live" => check.is_live(),
            "mock" => !check.is_live(),
            _ => false,
        };
        (self.checks.is_empty() || self.checks.iter().any(|p| glob(p, check.id)))
            && (self.tags.is_empty() || self.tags.iter().any(|t| tagged(t)))
            && (self.families.is_empty()
                || self
                    .families
                    .iter()
                    .any(|f| f.eq_ignore_ascii_case(check.family)))
    }
}

/// A configured run.
pub struct Suite {
    subjects: Vec<Subject>,
    selection: Selection,
    mode: Mode,
    fixtures: Fixtures,
    client: reqwest::Client,
    parallel: usize,
    regressions_file: Option<PathBuf>,
    property_cases: Option<u32>,
    budget: Option<u64>,
}

impl Default for Suite {
    fn default() -> Self {
        Self::new()
    }
}

impl Suite {
    /// An empty suite in mock mode.
    pub fn new() -> Self {
        Self {
            subjects: Vec::new(),
            selection: Selection::default(),
            mode: Mode::Mock,
            fixtures: Fixtures::default(),
            client: reqwest::Client::new(),
            parallel: 4,
            regressions_file: None,
            property_cases: None,
            budget: None,
        }
    }

    /// Adds a provider under test.
    pub fn subject(mut self, subject: Subject) -> Self {
        self.subjects.push(subject);
        self
    }

    /// Adds several.
    pub fn subjects(mut self, subjects: impl IntoIterator<Item = Subject>) -> Self {
        self.subjects.extend(subjects);
        self
    }

    /// Restricts the run.
    pub fn select(mut self, selection: Selection) -> Self {
        self.selection = selection;
        self
    }

    /// Sets the mode.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Reads scenarios from elsewhere.
    pub fn fixtures(mut self, fixtures: Fixtures) -> Self {
        self.fixtures = fixtures;
        self
    }

    /// The HTTP client every call shares (needs a TLS backend for live runs).
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = client;
        self
    }

    /// How many checks run at once.
    pub fn parallel(mut self, n: usize) -> Self {
        self.parallel = n.max(1);
        self
    }

    /// Saves shrunk property-test failures (SL-003) to `path` and replays the saved ones first
    /// on later runs. Off by default, so a suite run from a dependency never writes into that
    /// dependency's source; a project that wants its found bugs replayed names a file it owns
    /// (this repository: `conformance/proptest-regressions/sl_003.txt`).
    pub fn regressions_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.regressions_file = Some(path.into());
        self
    }

    /// How many cases the property checks (SL-003) try; by default 24, or `PROPTEST_CASES`.
    pub fn property_cases(mut self, cases: u32) -> Self {
        self.property_cases = Some(cases.max(1));
        self
    }

    /// Caps a live run's spending: checks run in catalogue order while the tokens they are
    /// estimated to spend ([`Check::live_tokens`]) fit in `tokens`; the rest are skipped, saying
    /// so. No effect against mocks or in replay.
    pub fn budget(mut self, tokens: u64) -> Self {
        self.budget = Some(tokens);
        self
    }

    /// Whether this run's calls reach a live server (and spend tokens).
    fn spends(&self) -> bool {
        matches!(self.mode, Mode::Live | Mode::Record(_))
    }

    /// The tokens the planned checks that will run are estimated to spend (0 against mocks),
    /// and, under a budget, which plan entries it leaves out.
    pub fn estimate(&self) -> (u64, Vec<bool>) {
        let plan = self.plan();
        let mut spent = 0u64;
        let mut over = vec![false; plan.len()];
        if !self.spends() {
            return (0, over);
        }
        for (i, (check, subject)) in plan.iter().enumerate() {
            if self.gate(check, subject).is_some() {
                continue;
            }
            let cost = u64::from(check.live_tokens.unwrap_or(0));
            if self.budget.is_some_and(|b| spent + cost > b) {
                over[i] = true;
            } else {
                spent += cost;
            }
        }
        (spent, over)
    }

    /// The (check, subject) pairs this run will execute, in report order.
    pub fn plan(&self) -> Vec<(&'static Check, &Subject)> {
        CHECKS
            .iter()
            .filter(|c| self.selection.wants_check(c))
            .flat_map(|c| {
                self.subjects
                    .iter()
                    .filter(|s| self.selection.wants_provider(&s.name))
                    .map(move |s| (c, s))
            })
            .collect()
    }

    /// Runs everything selected.
    pub async fn run(&self) -> Report {
        self.run_with(|_| {}).await
    }

    /// Runs everything selected, calling `progress` as each result arrives.
    pub async fn run_with(&self, mut progress: impl FnMut(&CheckResult)) -> Report {
        let plan = self.plan();
        let (_, over) = self.estimate();
        let mut results: Vec<(usize, CheckResult)> = Vec::with_capacity(plan.len());
        let over = &over;
        let mut running = futures_util::stream::iter(plan.iter().enumerate().map(
            |(i, (check, subject))| async move {
                if over[i] {
                    let cost = check.live_tokens.unwrap_or(0);
                    let budget = self.budget.unwrap_or(0);
                    let skip = Outcome::Skip(format!(
                        "over the token budget ({budget}): this check spends about {cost}"
                    ));
                    let result = CheckResult {
                        check: check.id,
                        provider: subject.name.clone(),
                        outcome: skip,
                        duration: std::time::Duration::ZERO,
                    };
                    return (i, result);
                }
                (i, self.run_one(check, subject).await)
            },
        ))
        .buffer_unordered(self.parallel);
        while let Some((i, result)) = running.next().await {
            progress(&result);
            results.push((i, result));
        }
        results.sort_by_key(|(i, _)| *i);
        Report::new(results.into_iter().map(|(_, r)| r).collect())
    }

    /// Runs one check against one subject.
    pub async fn run_one(&self, check: &'static Check, subject: &Subject) -> CheckResult {
        let started = Instant::now();
        let outcome = match self.gate(check, subject) {
            Some(skip) => skip,
            None => {
                let mut cx = Cx::new(subject, &self.mode, &self.fixtures, &self.client, check.id);
                cx.regressions_file = self.regressions_file.clone();
                cx.property_cases = self.property_cases;
                // A panicking check is a failure of that check, not of the whole run.
                let run = std::panic::AssertUnwindSafe((check.runner(self.mode.is_mock()))(&cx));
                // A provider that hangs fails the check; it must not hang the suite.
                match tokio::time::timeout(
                    CHECK_DEADLINE,
                    futures_util::FutureExt::catch_unwind(run),
                )
                .await
                {
                    Err(_) => Outcome::Fail(format!(
                        "the check did not finish within {} s: the provider hangs",
                        CHECK_DEADLINE.as_secs()
                    )),
                    Ok(Ok(Ok(()))) => cx.finish().await.err().unwrap_or(Outcome::Pass),
                    Ok(Ok(Err(outcome))) => outcome,
                    Ok(Err(panic)) => Outcome::Fail(format!(
                        "the check panicked: {}",
                        panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default()
                    )),
                }
            }
        };
        CheckResult {
            check: check.id,
            provider: subject.name.clone(),
            outcome,
            duration: started.elapsed(),
        }
    }

    /// A skip decided before running: mode and keys.
    fn gate(&self, check: &Check, subject: &Subject) -> Option<Outcome> {
        if self.mode.is_mock() {
            return None;
        }
        if !check.is_live() {
            return Some(Outcome::Skip(
                "needs the mock vendor (observes the wire or injects faults)".into(),
            ));
        }
        let Some(live) = &subject.live else {
            return Some(Outcome::Skip(
                "no live endpoint configured for this provider".into(),
            ));
        };
        if matches!(self.mode, Mode::Live | Mode::Record(_)) {
            if let Err(missing) = live.connect(self.client.clone()) {
                return Some(Outcome::Skip(missing));
            }
            // A made-up model (or Azure deployment) would only fail at the vendor.
            if let Err(missing) = live.model() {
                return Some(Outcome::Skip(missing));
            }
        }
        None
    }
}
