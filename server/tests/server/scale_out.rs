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

const REDIS: &str = "/usr/bin/redis-server";

/// A redis-server of the test's own; killed on drop.
struct Redis {
    child: Option<std::process::Child>,
    port: u16,
}

impl Redis {
    async fn start() -> Option<Self> {
        crate::common::packages_installed().await;
        if !std::path::Path::new(REDIS).exists() {
            let why = "redis-server is not installed (Debian's redis-server; .ci/run installs it)";
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "the scale-out tests cannot run: {why}"
            );
            eprintln!("skipped: {why}");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let mut r = Self { child: None, port };
        r.up().await;
        Some(r)
    }

    /// Starts (again) on the same port, with nothing kept from before.
    async fn up(&mut self) {
        let child = std::process::Command::new(REDIS)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("redis-server did not start on {}", self.port);
    }

    /// Killed outright, as a crash would.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
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

#[tokio::test]
async fn without_redis_each_instance_allows_a_tenant_its_whole_limit() {
    // The failure the shared limits exist for, shown: two instances, twice the limit.
    let (c, keys) = cluster("alone", 2, None, &[("team", 6)]).await;
    assert_eq!(admitted(&c, &keys[0], 12).await, 12);
}

#[tokio::test]
async fn a_tenants_rate_holds_across_instances_sharing_redis() {
    let Some(redis) = Redis::start().await else {
        return;
    };
    let (c, keys) = cluster("shared", 3, Some(&redis.url()), &[("team", 6)]).await;
    // Six a minute, a minute's worth at once: six of eighteen spread over three instances.
    assert_eq!(admitted(&c, &keys[0], 18).await, 6);
    let h = c.health(0).await;
    assert_eq!(h["shared"]["redis"], "ok", "{h}");
    assert_eq!(h["shared"]["instances"], 3, "{h}");
    assert_eq!(h["degraded"], false, "{h}");
}

#[tokio::test]
async fn redis_gone_each_instance_keeps_its_share_and_sharing_resumes_after() {
    let Some(mut redis) = Redis::start().await else {
        return;
    };
    let (c, keys) = cluster("outage", 2, Some(&redis.url()), &[("team", 10)]).await;
    redis.kill();
    c.until("every instance notices Redis is gone", |s| {
        !s.state().shared
    })
    .await;
    let h = c.health(1).await;
    assert_eq!(h["degraded"], true, "{h}");
    assert_eq!(h["shared"]["redis"], "unreachable", "{h}");
    assert_eq!(h["ready"], true, "still serving: {h}");
    // Ten a minute over two instances: five each, never unlimited, never nothing.
    let mut each = Vec::new();
    for i in 0..2 {
        let mut ok = 0;
        for _ in 0..10 {
            if c.call(i, &keys[0]).await == 200 {
                ok += 1;
            }
        }
        each.push(ok);
    }
    assert_eq!(each, [5, 5]);
    redis.up().await;
    c.until("every instance uses Redis again", |s| s.state().shared)
        .await;
    let h = c.health(0).await;
    assert_eq!(h["degraded"], false, "{h}");
    // The new Redis has no schedules: the shared limit applies afresh, across both.
    assert_eq!(admitted(&c, &keys[0], 14).await, 10);
}

#[tokio::test]
async fn an_edit_on_one_instance_is_used_by_the_others_at_once() {
    let Some(redis) = Redis::start().await else {
        return;
    };
    let (c, keys) = cluster("edits", 2, Some(&redis.url()), &[("team", 1000)]).await;
    let (a, b) = (&c.instances[0].0, &c.instances[1].0);
    // A price edit on A: B charges it (B re-reads only when told: no interval).
    let mut m = (*a.models.get("openai", "gpt-4o-mini").unwrap()).clone();
    m.prices.base.input = concord_models::Price::per_million("7").unwrap();
    a.models.save(&m).await.unwrap();
    let mut seen = false;
    for _ in 0..50 {
        if b.models
            .get("openai", "gpt-4o-mini")
            .unwrap()
            .prices
            .base
            .input
            .per_million_text()
            == "7"
        {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen, "B saw the price within a second");
    assert_eq!(c.call(1, &keys[0]).await, 200);
    b.recorder.flush().await;
    let last = b.models.store().calls(0).await.unwrap().pop().unwrap();
    assert_eq!(last.prices.unwrap().base.input.per_million_text(), "7");
    // A tenant disabled on A is refused by B.
    a.tenants.set_disabled("team", true).await.unwrap();
    let mut refused = false;
    for _ in 0..50 {
        if c.call(1, &keys[0]).await == 403 {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "B refused the disabled tenant within a second");
}

/// Calls at once over the instances in turn (at least 300 ms each at the vendor, so all are in
/// flight together) whose worst cases fit three at a time in the tenant's budget: (answered,
/// refused, what the answered cost by the records).
async fn budget_round(redis: Option<&str>, test: &str) -> (usize, usize, i64) {
    // The worst case of a call at gpt-4o-mini's $0.15 / $0.60 per million, in picodollars:
    // its body's bytes as input tokens, 5 output tokens (docs/server.md, budgets).
    let most = serde_json::to_vec(&call_body()).unwrap().len() as i64 * 150_000 + 5 * 600_000;
    let budget = concord_models::Money(3 * most + most / 2);
    let setup = Setup {
        latency: Duration::from_millis(300),
        budget: Some(budget),
        ..Setup::default()
    };
    let (c, keys) = cluster_with(test, 3, redis, &[("team", 100_000)], setup).await;
    let calls = (0..12).map(|i| c.call(i % 3, &keys[0]));
    let statuses = futures_util::future::join_all(calls).await;
    let answered = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(answered + refused, 12, "{statuses:?}");
    let mut cost = 0;
    for (s, _) in &c.instances {
        s.recorder.flush().await;
    }
    // One database: every instance's records are in it.
    for r in c.instances[0].0.models.store().calls(0).await.unwrap() {
        cost += r.cost.map_or(0, |m| m.0);
    }
    assert!(cost > 0);
    (answered, refused, cost)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_each_instance_spends_a_tenants_whole_budget() {
    // The failure shown: three instances, each admits the three worst cases that fit.
    let (answered, _, _) = budget_round(None, "budget-alone").await;
    assert_eq!(answered, 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_budget_holds_across_instances_sharing_redis() {
    let Some(redis) = Redis::start().await else {
        return;
    };
    let (answered, refused, cost) = budget_round(Some(&redis.url()), "budget-shared").await;
    // Three worst cases fit in the budget at once, whichever instances hold them.
    assert_eq!((answered, refused), (3, 9));
    // Settled in Redis: the account holds what the records say was spent, nothing reserved.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("concord:budget:team:*")
        .query_async(&mut conn)
        .await
        .unwrap();
    let account = keys.iter().find(|k| !k.ends_with(":leases")).unwrap();
    for _ in 0..50 {
        let (spent, reserved): (i64, i64) = redis::cmd("HMGET")
            .arg(account)
            .arg("spent")
            .arg("reserved")
            .query_async(&mut conn)
            .await
            .unwrap();
        if reserved == 0 {
            assert_eq!(spent, cost, "the account's spend is the records'");
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("reservations still held a second after every call ended");
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

#[tokio::test]
async fn a_providers_calls_in_parallel_hold_across_instances() {
    let Some(redis) = Redis::start().await else {
        return;
    };
    let setup = Setup {
        latency: Duration::from_millis(150),
        limits: openai_limits(None, Some(2)),
        ..Setup::default()
    };
    let (c, keys) = cluster_with(
        "parallel",
        3,
        Some(&redis.url()),
        &[("team", 100_000)],
        setup,
    )
    .await;
    // Nine calls at once over three instances, two in parallel for the deployment: all
    // answered, never more than two at the vendor.
    let calls = (0..9).map(|i| c.call(i % 3, &keys[0]));
    let statuses = futures_util::future::join_all(calls).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(
        c.mock.observations().max_in_flight(),
        2,
        "the vendor saw at most the limit, and the limit was used"
    );
}

#[tokio::test]
async fn a_providers_rate_holds_across_instances() {
    let Some(redis) = Redis::start().await else {
        return;
    };
    let setup = Setup {
        limits: openai_limits(Some(6), None),
        queue_timeout_ms: Some(300),
        ..Setup::default()
    };
    let (c, keys) = cluster_with(
        "provider-rate",
        2,
        Some(&redis.url()),
        &[("team", 100_000)],
        setup,
    )
    .await;
    // Six a minute for the deployment: six of twelve over two instances reach the vendor; the
    // rest are refused at once (their slot is past the 300 ms queue) with when to retry.
    assert_eq!(admitted(&c, &keys[0], 12).await, 6);
    assert_eq!(c.mock.requests().len(), 6);
    let r = c
        .http
        .post(format!("{}/v1/chat/completions", c.instances[1].1))
        .bearer_auth(&keys[0])
        .json(&json!({"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let after: f64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1.0..=10.0).contains(&after), "retry in {after} s");
}

/// The live permits of `openai` in Redis now (leases not yet over), by Redis's clock.
async fn live_permits(url: &str) -> usize {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let (secs, micros): (i64, i64) = redis::cmd("TIME").query_async(&mut conn).await.unwrap();
    let now_ms = secs * 1000 + micros / 1000;
    let n: usize = redis::cmd("ZCOUNT")
        .arg("concord:provider:openai:permits")
        .arg(format!("({now_ms}"))
        .arg("+inf")
        .query_async(&mut conn)
        .await
        .unwrap();
    n
}

/// Not a test of its own: the instance `an_instance_killed_mid_call_gives_its_permit_back_within_the_lease`
/// starts as a separate process (this test binary, run again) and kills.
#[tokio::test]
#[ignore = "a helper: run as a child process by the kill test, with CONCORD_TEST_CHILD set"]
async fn child_instance() {
    let Ok(spec) = std::env::var("CONCORD_TEST_CHILD") else {
        return;
    };
    let mut parts = spec.split('|');
    let (dir, redis, vendor) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let database = DatabaseSection {
        data_dir: Some(dir.into()),
        refresh_secs: 0,
        ..DatabaseSection::default()
    };
    let (models, store) = database.open_with_store(&|_| None).await.unwrap();
    let http = reqwest::Client::new();
    let registry = Registry::new(Options::new(http.clone()));
    let ctx = RuntimeContext::new()
        .base_url(vendor)
        .credential(VENDOR_KEY)
        .client(http);
    registry
        .register_instance("openai", Arc::new(concord::builtin("openai").unwrap()), ctx)
        .unwrap();
    let server = Arc::new(Server {
        registry,
        recorder: Recorder::new(models.store().clone()),
        budgets: Arc::new(concord_server::budget::Budgets::new(models.store().clone())),
        models,
        tenants: Tenants::open(store.pool().clone()).await.unwrap(),
        settings: ServerSection::default(),
        admin: None,
        users: Default::default(),
        shared: Some(
            Shared::connect(&redis_section(redis, &Setup::default()), None)
                .await
                .unwrap(),
        ),
    });
    let _tasks = server.shared.as_ref().unwrap().join(&server);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("CHILD-LISTENING http://{}", listener.local_addr().unwrap());
    server
        .serve(listener, std::future::pending())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_instance_killed_mid_call_gives_its_permit_and_reservation_back_within_the_lease() {
    use std::io::BufRead;
    let Some(redis) = Redis::start().await else {
        return;
    };
    // A vendor that never answers in time: the call holds its permit until its instance dies,
    // and its reservation of a budget with room for one call's worst case at a time.
    let most = serde_json::to_vec(&call_body()).unwrap().len() as i64 * 150_000 + 5 * 600_000;
    let setup = Setup {
        latency: Duration::from_secs(60),
        limits: openai_limits(None, Some(1)),
        budget: Some(concord_models::Money(most + most / 2)),
        ..Setup::default()
    };
    let (c, keys) = cluster_with("kill", 1, Some(&redis.url()), &[("team", 100_000)], setup).await;
    let dir = c._dir.0.display().to_string();
    let spec = format!("{dir}|{}|{}", redis.url(), c.mock.base_url());
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "scale_out::child_instance",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("CONCORD_TEST_CHILD", spec)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let started = tokio::task::spawn_blocking(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            // libtest writes `test NAME ... ` first, on the same line.
            .find_map(|l| {
                l.split("CHILD-LISTENING ")
                    .nth(1)
                    .map(|u| u.trim().to_owned())
            })
    });
    let base = match tokio::time::timeout(Duration::from_secs(20), started).await {
        Ok(found) => found.unwrap().expect("the child instance started"),
        Err(_) => {
            let _ = child.kill();
            panic!("the child instance did not start within 20 s");
        }
    };
    let key = keys[0].clone();
    let http = c.http.clone();
    let hanging = tokio::spawn(async move {
        let _ = http
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&call_body())
            .send()
            .await;
    });
    // A call on the other instance: its status, or `None` while it waits at the vendor.
    let other = || async {
        let r = c
            .http
            .post(format!("{}/v1/chat/completions", c.instances[0].1))
            .bearer_auth(&keys[0])
            .json(&call_body())
            .timeout(Duration::from_millis(700))
            .send()
            .await;
        r.ok().map(|r| r.status().as_u16())
    };
    let mut held = false;
    for _ in 0..100 {
        if live_permits(&redis.url()).await == 1 {
            held = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(held, "the child's call took the permit");
    // Renewed while the instance lives: still held past two leases.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        live_permits(&redis.url()).await,
        1,
        "a live instance keeps its permit"
    );
    assert_eq!(
        other().await,
        Some(429),
        "the child's reservation holds the budget"
    );
    let killed = std::time::Instant::now();
    child.kill().unwrap();
    child.wait().unwrap();
    let mut back = None;
    for _ in 0..200 {
        if live_permits(&redis.url()).await == 0 {
            back = Some(killed.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let back = back.expect("the permit came back");
    assert!(
        back <= Duration::from_millis(1000 + 150),
        "within the 1 s lease: {back:?}"
    );
    // So has its reservation: the next call is admitted (and waits at the vendor).
    tokio::time::sleep(Duration::from_millis(1000).saturating_sub(killed.elapsed())).await;
    assert_eq!(
        other().await,
        None,
        "the dead instance's reservation is released"
    );
    hanging.abort();
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

#[tokio::test]
async fn a_users_runtime_set_on_one_instance_is_used_by_the_next_call_on_another() {
    let Some(mut redis) = Redis::start().await else {
        return;
    };
    let (c, keys) = cluster("runtimes", 2, Some(&redis.url()), &[("team", 100_000)]).await;
    let key = &keys[0];
    assert_eq!(c.set_runtime(0, key, "ana", "openai/gpt-4o").await, 200);
    assert_eq!(c.model_used(1, key, "ana").await, "gpt-4o");
    assert_eq!(
        c.set_runtime(0, key, "ana", "openai/gpt-4o-mini").await,
        200
    );
    assert_eq!(
        c.model_used(1, key, "ana").await,
        "gpt-4o-mini",
        "the very next call"
    );
    // Redis gone: B runs with what it last read; a change is refused, not kept on A alone.
    redis.kill();
    c.until("every instance notices Redis is gone", |s| {
        !s.state().shared
    })
    .await;
    assert_eq!(c.model_used(1, key, "ana").await, "gpt-4o-mini");
    assert_eq!(c.set_runtime(0, key, "ana", "openai/gpt-4o").await, 503);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_gone_under_load_calls_flow_and_every_record_is_written_after() {
    let Some(redis) = Redis::start().await else {
        return;
    };
    let Some(pg) = Postgres::start() else {
        return;
    };
    let setup = Setup {
        latency: Duration::from_millis(10),
        postgres: Some(pg.url.clone()),
        ..Setup::default()
    };
    let (c, keys) = cluster_with(
        "pg-outage",
        2,
        Some(&redis.url()),
        &[("team", 1_000_000)],
        setup,
    )
    .await;
    let c = Arc::new(c);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Four callers over both instances until told to stop: (answered, other statuses).
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (c, stop, key) = (c.clone(), stop.clone(), keys[0].clone());
            let count = count.clone();
            tokio::spawn(async move {
                let (mut ok, mut other) = (0usize, Vec::new());
                let mut i = w;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    match c.call(i % 2, &key).await {
                        200 => {
                            ok += 1;
                            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        s => other.push(s),
                    }
                    i += 1;
                }
                (ok, other)
            })
        })
        .collect();
    let now = || count.load(std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    pg.run("crash");
    let at_crash = now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    // The outage is real: the database does not answer.
    let store = c.instances[0].0.models.store().clone();
    let read = tokio::time::timeout(Duration::from_secs(1), store.calls(0)).await;
    assert!(!matches!(read, Ok(Ok(_))), "Postgres is down");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let at_resume = now();
    pg.run("resume");
    assert!(
        at_resume - at_crash > 20,
        "calls answered while Postgres was down: {}",
        at_resume - at_crash
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut answered = 0;
    for w in workers {
        let (ok, other) = w.await.unwrap();
        assert!(
            other.is_empty(),
            "every call answered through the outage: {other:?}"
        );
        answered += ok;
    }
    assert!(answered > 40, "calls flowed: {answered}");
    // Held through the outage, written when Postgres is back: one record per request.
    let mut held = usize::MAX;
    for _ in 0..40 {
        held = 0;
        for (s, _) in &c.instances {
            held += s.recorder.flush().await;
        }
        if held == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(held, 0, "records still held 10 s after Postgres came back");
    for (s, _) in &c.instances {
        assert_eq!(s.recorder.dropped(), 0);
    }
    let records = c.instances[0].0.models.store().calls(0).await.unwrap();
    assert_eq!(records.len(), answered, "one record per request");
}

#[tokio::test]
async fn a_providers_tokens_per_minute_hold_across_instances() {
    let Some(redis) = Redis::start().await else {
        return;
    };
    let setup = Setup {
        queue_timeout_ms: Some(300),
        ..Setup::default()
    };
    let (c, keys) = cluster_with(
        "provider-tpm",
        2,
        Some(&redis.url()),
        &[("team", 100_000)],
        setup,
    )
    .await;
    // What one call uses, by the vendor's count.
    let first: Value = c
        .http
        .post(format!("{}/v1/chat/completions", c.instances[0].1))
        .bearer_auth(&keys[0])
        .json(&call_body())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let used = first["usage"]["total_tokens"].as_u64().unwrap();
    // Just under three calls' worth a minute for the deployment, set on A, seen by B.
    let tpm = u32::try_from(3 * used - 1).unwrap();
    let limits = openai_limits(None, None).map(|l| concord_models::ProviderLimits {
        tokens_per_minute: Some(tpm),
        ..l
    });
    c.instances[0]
        .0
        .models
        .set_limits(&limits.unwrap())
        .await
        .unwrap();
    for _ in 0..50 {
        let seen = c.instances[1].0.models.limits("openai");
        if seen.and_then(|l| l.tokens_per_minute) == Some(tpm) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Tokens are debited when a call ends: three calls spend the minute, over both instances.
    let before = c.mock.requests().len();
    let mut statuses = Vec::new();
    for i in 0..8 {
        statuses.push(c.call(i % 2, &keys[0]).await);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(c.mock.requests().len() - before, 3, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 5);
}

#[tokio::test]
async fn an_edit_made_outside_the_instances_is_announced_to_them() {
    let Some(redis) = Redis::start().await else {
        return;
    };
    let (c, _) = cluster("announce", 2, Some(&redis.url()), &[("team", 100)]).await;
    // What `concord models set` does: its own handle on the database, then a word in Redis.
    let database = DatabaseSection {
        data_dir: Some(c._dir.0.clone()),
        refresh_secs: 0,
        ..DatabaseSection::default()
    };
    let (cli, _) = database.open_with_store(&|_| None).await.unwrap();
    let mut m = (*cli.get("openai", "gpt-4o-mini").unwrap()).clone();
    m.prices.base.input = concord_models::Price::per_million("9").unwrap();
    cli.save(&m).await.unwrap();
    let price = |i: usize| {
        c.instances[i]
            .0
            .models
            .get("openai", "gpt-4o-mini")
            .unwrap()
            .prices
            .base
            .input
            .per_million_text()
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_ne!(
        price(1),
        "9",
        "not re-read before the word (no interval here)"
    );
    let settings = redis_section(&redis.url(), &Setup::default());
    let told = concord_server::shared::announce(&settings, None, "models")
        .await
        .unwrap();
    assert_eq!(told, 2, "both instances listen");
    for _ in 0..50 {
        if (0..2).all(|i| price(i) == "9") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the instances did not re-read within a second of the word");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_gone_each_instance_spends_only_its_share_of_whats_left() {
    let Some(mut redis) = Redis::start().await else {
        return;
    };
    let most = serde_json::to_vec(&call_body()).unwrap().len() as i64 * 150_000 + 5 * 600_000;
    let setup = Setup {
        latency: Duration::from_millis(300),
        budget: Some(concord_models::Money(4 * most + most / 2)),
        ..Setup::default()
    };
    let (c, keys) = cluster_with(
        "budget-outage",
        2,
        Some(&redis.url()),
        &[("team", 100_000)],
        setup,
    )
    .await;
    redis.kill();
    c.until("every instance notices Redis is gone", |s| {
        !s.state().shared
    })
    .await;
    // Four and a half worst cases left over two instances: two at once on each, never more.
    let calls = (0..8).map(|i| c.call(i % 2, &keys[0]));
    let statuses = futures_util::future::join_all(calls).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        4,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        4,
        "{statuses:?}"
    );
}
