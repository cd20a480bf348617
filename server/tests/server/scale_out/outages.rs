//! Redis killed, Postgres crashed, an instance killed mid-call: what keeps working and what
//! comes back.

use super::*;

#[tokio::test]
async fn redis_gone_each_instance_keeps_its_share_and_sharing_resumes_after() {
    let Some(mut redis) = redis_server().await else {
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

/// Not a test of its own: the instance `an_instance_killed_mid_call_gives_its_permit_and_reservation_back_within_the_lease`
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
    let Some(redis) = redis_server().await else {
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
            "scale_out::outages::child_instance",
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_gone_under_load_calls_flow_and_every_record_is_written_after() {
    let Some(redis) = redis_server().await else {
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
