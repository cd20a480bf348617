//! Several instances of the server on one database and one real Redis (a `redis-server` each
//! test starts on a loopback port of its own, and kills to see what an outage does). Without
//! redis-server the tests that need it say they skipped and why; under `CI=true` (where
//! `.ci/run` installs it) its absence fails them.

use std::sync::Arc;
use std::time::Duration;

use concord::RuntimeContext;
use concord_harness::{MockVendor, Protocol};
use concord_models::{DatabaseSection, Recorder};
use concord_registry::{Options, Registry};
use concord_server::shared::Shared;
use concord_server::{RedisSection, Server, ServerSection, Tenants};
use serde_json::{json, Value};

use crate::common::{TempDir, VENDOR_KEY};

mod budgets;
mod edits;
mod limits;
mod outages;

/// A redis-server of the test's own, killed on drop; `None` when it is not installed (locally).
async fn redis_server() -> Option<concord_harness::RedisServer> {
    concord_harness::RedisServer::start("the scale-out tests").await
}

/// Instances of one deployment: one database folder, one mock vendor, Redis when given.
struct Cluster {
    instances: Vec<(Arc<Server>, String)>,
    http: reqwest::Client,
    _tasks: Vec<tokio::task::JoinHandle<()>>,
    mock: MockVendor,
    _dir: TempDir,
}

/// What a cluster's vendor and provider are like.
#[derive(Default, Clone)]
struct Setup {
    /// How long the mock vendor takes to answer.
    latency: Duration,
    /// The model database's limits of `openai` (the deployment's).
    limits: Option<concord_models::ProviderLimits>,
    /// `[redis] queue_timeout_ms` (default: the setting's).
    queue_timeout_ms: Option<u64>,
    /// Every tenant's budget (per month).
    budget: Option<concord_models::Money>,
    /// The database, when not SQLite in the test's folder: a Postgres URL.
    postgres: Option<String>,
}

/// `n` instances; `tenants` are made first, `(name, rpm)`; returns their keys too.
async fn cluster(
    test: &str,
    n: usize,
    redis: Option<&str>,
    tenants: &[(&str, u64)],
) -> (Cluster, Vec<String>) {
    cluster_with(test, n, redis, tenants, Setup::default()).await
}

fn redis_section(url: &str, setup: &Setup) -> RedisSection {
    RedisSection {
        url: Some(url.to_owned()),
        heartbeat_ms: 100,
        timeout_ms: 100,
        lease_ms: 1000,
        queue_timeout_ms: setup.queue_timeout_ms.unwrap_or(30_000),
        ..RedisSection::default()
    }
}

async fn cluster_with(
    test: &str,
    n: usize,
    redis: Option<&str>,
    tenants: &[(&str, u64)],
    setup: Setup,
) -> (Cluster, Vec<String>) {
    let dir = std::env::temp_dir().join(format!("concord-scale-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let database = DatabaseSection {
        data_dir: Some(dir.clone()),
        url: setup.postgres.clone(),
        refresh_secs: 0,
        ..DatabaseSection::default()
    };
    let mock = MockVendor::start_with(
        concord_harness::MockConfig::new(Protocol::Openai)
            .scenario("auto")
            .latency(setup.latency),
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let mut keys = Vec::new();
    let mut instances = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..n {
        // Interval re-reads are off: what one instance sees of another's edits comes by Redis.
        let (models, store) = database.open_with_store(&|_| None).await.unwrap();
        let t = Tenants::open(store.pool().clone()).await.unwrap();
        if i == 0 {
            for (name, rpm) in tenants {
                keys.push(t.create(name, None, None).await.unwrap());
                t.set_rate_limits(name, Some(*rpm), None).await.unwrap();
                if let Some(limit) = setup.budget {
                    let budget = concord_server::tenants::Budget {
                        limit,
                        period: concord_server::tenants::Period::Month,
                    };
                    t.set_budget(name, Some(budget)).await.unwrap();
                }
            }
            if let Some(l) = &setup.limits {
                models.set_limits(l).await.unwrap();
            }
        }
        let registry = Registry::new(Options::new(http.clone()));
        let ctx = RuntimeContext::new()
            .base_url(mock.base_url())
            .credential(VENDOR_KEY)
            .client(http.clone());
        registry
            .register_instance("openai", Arc::new(concord::builtin("openai").unwrap()), ctx)
            .unwrap();
        let shared = match redis {
            Some(url) => Some(
                Shared::connect(&redis_section(url, &setup), None)
                    .await
                    .unwrap(),
            ),
            None => None,
        };
        let server = Arc::new(Server {
            registry,
            recorder: Recorder::new(models.store().clone()),
            budgets: Arc::new(concord_server::budget::Budgets::new(models.store().clone())),
            models,
            tenants: t,
            settings: ServerSection::default(),
            admin: None,
            users: Default::default(),
            shared,
        });
        if let Some(s) = &server.shared {
            tasks.extend(s.join(&server));
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(server.clone().serve(listener, std::future::pending()));
        instances.push((server, base));
    }
    let c = Cluster {
        instances,
        http,
        _tasks: tasks,
        mock,
        _dir: TempDir(dir),
    };
    // Every instance has said it is alive before anything is measured.
    if redis.is_some() {
        c.until("every instance counts the others", |s| {
            s.state().instances == n
        })
        .await;
    }
    (c, keys)
}

/// The body of [`Cluster::call`].
fn call_body() -> Value {
    json!({"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5})
}

impl Cluster {
    async fn call(&self, i: usize, key: &str) -> u16 {
        self.http
            .post(format!("{}/v1/chat/completions", self.instances[i].1))
            .bearer_auth(key)
            .json(&call_body())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn health(&self, i: usize) -> Value {
        self.http
            .get(format!("{}/health/ready", self.instances[i].1))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Waits (at most 5 s) until every instance's link to Redis satisfies `f`.
    async fn until(&self, what: &str, f: impl Fn(&Shared) -> bool) {
        for _ in 0..250 {
            if self
                .instances
                .iter()
                .all(|(s, _)| s.shared.as_deref().is_some_and(&f))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("not within 5 s: {what}");
    }
}

/// Admitted calls among `n` spread over the instances in turn.
async fn admitted(c: &Cluster, key: &str, n: usize) -> usize {
    let mut ok = 0;
    for i in 0..n {
        match c.call(i % c.instances.len(), key).await {
            200 => ok += 1,
            429 => {}
            other => panic!("call {i}: {other}"),
        }
    }
    ok
}

fn openai_limits(
    rpm: Option<u32>,
    parallel: Option<u32>,
) -> Option<concord_models::ProviderLimits> {
    Some(concord_models::ProviderLimits {
        provider: "openai".into(),
        requests_per_minute: rpm,
        tokens_per_minute: None,
        max_parallel: parallel,
    })
}

impl Cluster {
    /// Sets `user`'s model on instance `i`.
    async fn set_runtime(&self, i: usize, key: &str, user: &str, model: &str) -> u16 {
        self.http
            .put(format!("{}/v1/runtimes/{user}", self.instances[i].1))
            .bearer_auth(key)
            .json(&json!({"model": model}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// A call for `user` naming no model on instance `i`: the model the vendor was asked for.
    async fn model_used(&self, i: usize, key: &str, user: &str) -> Value {
        let status = self
            .http
            .post(format!("{}/v1/chat/completions", self.instances[i].1))
            .bearer_auth(key)
            .header("x-concord-user", user)
            .json(&json!({"messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
        self.mock.requests().pop().unwrap().body["model"].clone()
    }
}

/// A PostgreSQL server of the test's own (`.ci/postgres`), crashed and resumed at will;
/// stopped and removed on drop.
struct Postgres {
    url: String,
    dir: String,
}

impl Postgres {
    fn script() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/postgres")
    }

    fn start() -> Option<Self> {
        let installed = std::fs::read_dir("/usr/lib/postgresql")
            .map(|d| d.flatten().any(|v| v.path().join("bin/postgres").exists()))
            .unwrap_or(false);
        if !installed {
            let why = "PostgreSQL is not installed (Debian's postgresql; .ci/run installs it)";
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "the Postgres outage test cannot run: {why}"
            );
            eprintln!("skipped: {why}");
            return None;
        }
        let out = std::process::Command::new(Self::script())
            .arg("start")
            .output()
            .unwrap();
        let line = String::from_utf8_lossy(&out.stdout).to_string();
        let var = |name: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!(".ci/postgres start said {line:?}"))
                .to_owned()
        };
        Some(Self {
            url: var("CONCORD_TEST_POSTGRES_URL"),
            dir: var("CONCORD_TEST_POSTGRES_DIR"),
        })
    }

    fn run(&self, what: &str) {
        let status = std::process::Command::new(Self::script())
            .args([what, &self.dir])
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), ".ci/postgres {what}");
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = std::process::Command::new(Self::script())
            .args(["stop", &self.dir])
            .stderr(std::process::Stdio::null())
            .status();
    }
}
