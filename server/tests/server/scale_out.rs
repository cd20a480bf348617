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
    _mock: MockVendor,
    _dir: TempDir,
}

/// `n` instances; `tenants` are made first, `(name, rpm)`; returns their keys too.
async fn cluster(
    test: &str,
    n: usize,
    redis: Option<&str>,
    tenants: &[(&str, u64)],
) -> (Cluster, Vec<String>) {
    let dir = std::env::temp_dir().join(format!("concord-scale-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let database = DatabaseSection {
        data_dir: Some(dir.clone()),
        refresh_secs: 0,
        ..DatabaseSection::default()
    };
    let mock = MockVendor::start(Protocol::Openai, "auto").await.unwrap();
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
                Shared::connect(
                    &RedisSection {
                        url: Some(url.to_owned()),
                        heartbeat_ms: 100,
                        timeout_ms: 100,
                        ..RedisSection::default()
                    },
                    None,
                )
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
        _mock: mock,
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

impl Cluster {
    async fn call(&self, i: usize, key: &str) -> u16 {
        self.http
            .post(format!("{}/v1/chat/completions", self.instances[i].1))
            .bearer_auth(key)
            .json(&json!({"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}))
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
