//! The store against real databases: SQLite in a temporary file, always; Postgres when
//! `CONCORD_TEST_POSTGRES_URL` names a server (`.ci/run` starts one) — each test body runs on
//! both. Locally without it the Postgres half says it skipped and why; under `CI=true` its
//! absence is a failure.

use concord::Usage;
use concord_models::{
    cost, CallRecord, Model, Price, PriceSet, Prices, ProviderLimits, SqlStore, Status, Store,
};

/// Every database to run a test on: `(label, url)`.
async fn databases(test: &str) -> Vec<(String, String)> {
    let dir = std::env::temp_dir().join(format!("concord-models-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut out = vec![(
        "sqlite".to_owned(),
        format!("sqlite://{}", dir.join("models.db").display()),
    )];
    match std::env::var("CONCORD_TEST_POSTGRES_URL") {
        Ok(admin) => out.push(("postgres".to_owned(), fresh_postgres(&admin, test).await)),
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but CONCORD_TEST_POSTGRES_URL is not set: .ci/run starts Postgres and sets it")
        }
        Err(_) => eprintln!(
            "{test}: Postgres skipped: set CONCORD_TEST_POSTGRES_URL=postgres://user@host:port/db (bash .ci/run starts one)"
        ),
    }
    out
}

/// A new, empty database on the server at `admin`, for one test.
async fn fresh_postgres(admin: &str, test: &str) -> String {
    use sqlx::Connection;
    let name = format!("concord_{}_{}", test, std::process::id());
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .expect("the Postgres server answers");
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut conn)
        .await;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create a test database");
    let (base, _) = admin.rsplit_once('/').expect("a URL with a database");
    format!("{base}/{name}")
}

fn model(provider: &str, id: &str, input: &str, output: &str) -> Model {
    Model {
        provider: provider.into(),
        id: id.into(),
        display_name: None,
        prices: Prices {
            base: PriceSet {
                input: Price::per_million(input).unwrap(),
                output: Price::per_million(output).unwrap(),
                cache_read: Some(Price::per_million("0.075").unwrap()),
                cache_write: None,
                // Both one-hour columns round-trip (migration 0002).
                cache_write_1h: Some(Price::per_million("6").unwrap()),
                reasoning: None,
            },
            above: Some((
                200_000,
                PriceSet {
                    input: Price::per_million("2.5").unwrap(),
                    output: Price::per_million("15").unwrap(),
                    cache_write_1h: Some(Price::per_million("12").unwrap()),
                    ..PriceSet::default()
                },
            )),
        },
        context_window: Some(1_048_576),
        max_output: Some(65_536),
        modalities: vec!["text".into(), "image".into()],
        capabilities: vec!["tools".into()],
        status: Status::Active,
        deprecated_on: None,
        replaced_by: None,
        source: "test".into(),
        edited: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_round_trip_and_migrations_run_once() {
    for (db, url) in databases("roundtrip").await {
        let store = SqlStore::open(&url)
            .await
            .unwrap_or_else(|e| panic!("{db}: {e}"));
        let m = model("gemini", "gemini-2.5-pro", "1.25", "10");
        store.save_model(&m).await.unwrap();
        // Opening again finds the migrations applied and the data there.
        let again = SqlStore::open(&url).await.unwrap();
        let got = again.models().await.unwrap();
        assert_eq!(got, vec![Model { edited: true, ..m }], "{db}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_adds_updates_keeps_edits_and_records_deprecations() {
    for (db, url) in databases("import").await {
        let store = SqlStore::open(&url).await.unwrap();
        let a = model("openai", "gpt-4o", "2.5", "10");
        let b = model("openai", "gpt-4o-mini", "0.15", "0.6");
        let r = store.import(&[a.clone(), b.clone()], false).await.unwrap();
        assert_eq!((r.added, r.updated, r.unchanged), (2, 0, 0), "{db}");
        // A person edits b's price.
        let edited = model("openai", "gpt-4o-mini", "0.1", "0.6");
        store.save_model(&edited).await.unwrap();
        // A newer snapshot deprecates a and changes b.
        let a2 = Model {
            status: Status::Deprecated,
            replaced_by: Some("gpt-5".into()),
            ..a.clone()
        };
        let b2 = model("openai", "gpt-4o-mini", "0.2", "0.8");
        let r = store
            .import(&[a2.clone(), b2.clone()], false)
            .await
            .unwrap();
        assert_eq!((r.updated, r.kept, r.deprecated), (1, 1, 1), "{db}: {r:?}");
        let now = store.models().await.unwrap();
        assert_eq!(now[0].status, Status::Deprecated, "{db}");
        assert_eq!(
            now[1].prices.base.input,
            Price::per_million("0.1").unwrap(),
            "{db}: the edit is kept"
        );
        let r = store.import(&[a2, b2.clone()], true).await.unwrap();
        assert_eq!((r.updated, r.unchanged), (1, 1), "{db}: {r:?}");
        assert_eq!(store.models().await.unwrap()[1].prices, b2.prices, "{db}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_limits_and_call_records_keep_what_was_written() {
    for (db, url) in databases("records").await {
        let store = SqlStore::open(&url).await.unwrap();
        store
            .set_setting("default.default", "\"openai/gpt-4o\"")
            .await
            .unwrap();
        store
            .set_setting("default.default", "\"openai/gpt-4o-mini\"")
            .await
            .unwrap();
        assert_eq!(
            store.settings().await.unwrap(),
            vec![("default.default".into(), "\"openai/gpt-4o-mini\"".into())],
            "{db}"
        );
        let limits = ProviderLimits {
            provider: "openai".into(),
            requests_per_minute: Some(500),
            tokens_per_minute: None,
            max_parallel: Some(8),
        };
        store.set_limits(&limits).await.unwrap();
        assert_eq!(store.limits().await.unwrap(), vec![limits], "{db}");

        let m = model("gemini", "gemini-2.5-pro", "1.25", "10");
        let usage = Usage {
            cache_read_tokens: Some(100),
            cache_write_tokens: Some(40),
            cache_write_1h_tokens: Some(30),
            ..Usage::new(Some(1000), Some(50))
        };
        let c = cost(&usage, &m.prices).unwrap();
        let record = CallRecord {
            id: "call-1".into(),
            at_ms: 1_765_000_000_000,
            tenant: Some("team-a".into()),
            provider: m.provider.clone(),
            model: m.id.clone(),
            stream: true,
            outcome: "ok".into(),
            latency_ms: 812,
            usage,
            cost: Some(c.total),
            prices: Some(m.prices),
        };
        store
            .record_all(std::slice::from_ref(&record))
            .await
            .unwrap();
        let cut = CallRecord {
            id: "call-2".into(),
            at_ms: 1_765_000_000_500,
            outcome: "stream_interrupted".into(),
            usage: Usage::default(),
            cost: None,
            prices: Some(m.prices),
            ..record.clone()
        };
        store.record_all(std::slice::from_ref(&cut)).await.unwrap();
        assert_eq!(
            store.calls(1_765_000_000_000).await.unwrap(),
            vec![record, cut],
            "{db}"
        );
        assert!(store.calls(1_765_000_001_000).await.unwrap().is_empty());
        // A tenant's spend sums its costs (the cut call has none) since a time.
        assert_eq!(store.spent("team-a", 0).await.unwrap(), c.total, "{db}");
        assert_eq!(
            store.spent("team-a", 1_765_000_000_001).await.unwrap(),
            concord_models::Money(0),
            "{db}"
        );
        assert_eq!(
            store.spent("nobody", 0).await.unwrap(),
            concord_models::Money(0)
        );
    }
}

/// The recorder writes what waits in one transaction; a record the database refuses (here a
/// duplicate id) costs only itself, not the batch it came in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recorder_batches_and_one_bad_record_loses_only_itself() {
    for (db, url) in databases("recorder").await {
        let store: std::sync::Arc<dyn Store> =
            std::sync::Arc::new(SqlStore::open(&url).await.unwrap());
        let recorder = concord_models::Recorder::new(store.clone());
        for i in 0..1500 {
            recorder.record(record(i));
        }
        // The duplicate, among more records queued behind it.
        recorder.record(record(7));
        for i in 1500..1600 {
            recorder.record(record(i));
        }
        assert_eq!(recorder.flush().await, 0, "nothing held: {db}");
        let calls = store.calls(0).await.unwrap();
        assert_eq!(calls.len(), 1600, "{db}");
        // The duplicate, refused by the database, is the one record lost, and counted.
        assert_eq!(recorder.dropped(), 1, "{db}");
    }
}

/// The `i`th of a run of plain call records, each its own id.
fn record(i: i64) -> CallRecord {
    CallRecord {
        id: format!("call-{i}"),
        at_ms: 1_765_000_000_000 + i,
        tenant: None,
        provider: "openai".into(),
        model: "gpt-4o-mini".into(),
        stream: false,
        outcome: "ok".into(),
        latency_ms: 1,
        usage: Usage::new(Some(10), Some(2)),
        cost: None,
        prices: None,
    }
}

/// A database that goes away (Postgres refusing every connection to it, those open ended)
/// and comes back: the records made meanwhile are held, then written; none is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recorder_holds_records_through_a_database_outage() {
    use sqlx::Connection;
    let admin = match std::env::var("CONCORD_TEST_POSTGRES_URL") {
        Ok(url) => url,
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but CONCORD_TEST_POSTGRES_URL is not set: .ci/run starts Postgres and sets it")
        }
        Err(_) => {
            eprintln!("skipped: a database outage needs a Postgres server (CONCORD_TEST_POSTGRES_URL; bash .ci/run starts one)");
            return;
        }
    };
    let url = fresh_postgres(&admin, "outage").await;
    let name = format!("concord_outage_{}", std::process::id());
    let store = std::sync::Arc::new(SqlStore::open(&url).await.unwrap());
    let recorder = concord_models::Recorder::new(store.clone());
    for i in 0..10 {
        recorder.record(record(i));
    }
    assert_eq!(recorder.flush().await, 0);
    let mut admin_conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .execute(&mut admin_conn)
        .await
        .unwrap();
    sqlx::query(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ))
    .execute(&mut admin_conn)
    .await
    .unwrap();
    for i in 10..30 {
        recorder.record(record(i));
    }
    // Long enough for the writer to find the database away.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .execute(&mut admin_conn)
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let n = store.calls(0).await.map(|c| c.len()).unwrap_or(0);
        if n == 30 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{n} of 30 records written a minute after the database came back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(recorder.dropped(), 0, "none lost");
    assert_eq!(recorder.flush().await, 0, "nothing held");
}
