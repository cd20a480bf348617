//! The model database (`concord-models`): a model's lookup among the vendored snapshot's 444
//! (the aim: p99 under 50 µs), its lifecycle verdict, a call's cost from its usage (the aim:
//! under 1 µs), a `Metered` call over a provider that answers from memory against the bare
//! call, and how many call records a second the recorder writes to an embedded SQLite file.
//!
//! The lookup's percentiles come from timing single lookups one by one (criterion reports
//! means); they are printed as `models/get percentiles`.

use std::sync::Arc;

use concord::{Provider, Request, RuntimeContext, Usage};
use concord_benches::Instant;
use concord_models::{cost, CallRecord, Metered, Models, Recorder, SqlStore, Store};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn record(i: u64) -> CallRecord {
    CallRecord {
        id: format!("bench-{}-{i}", std::process::id()),
        at_ms: 1_765_000_000_000 + i as i64,
        tenant: Some("team-a".into()),
        provider: "openai".into(),
        model: "gpt-4o-mini".into(),
        stream: false,
        outcome: "ok".into(),
        latency_ms: 420,
        usage: Usage::new(Some(1200), Some(300)),
        cost: Some(concord_models::Money(360_000_000)),
        prices: None,
    }
}

fn models(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = std::env::temp_dir().join(format!("concord-bench-models-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let url = format!("sqlite://{}", dir.join("models.db").display());
    let store: Arc<dyn Store> = Arc::new(rt.block_on(SqlStore::open(&url)).expect("open"));
    let models = Arc::new(rt.block_on(Models::open(store.clone())).expect("seeded"));
    assert!(models.all().len() > 400, "the snapshot seeded the database");

    c.bench_function("models/get_among_444", |b| {
        b.iter(|| models.get("openai", std::hint::black_box("gpt-4o-mini")))
    });
    // One by one, for the tail criterion's mean hides.
    let mut times: Vec<u128> = (0..200_000)
        .map(|i| {
            let id = if i % 2 == 0 { "gpt-4o-mini" } else { "o3" };
            let t = std::time::Instant::now();
            std::hint::black_box(models.get("openai", std::hint::black_box(id)));
            t.elapsed().as_nanos()
        })
        .collect();
    times.sort_unstable();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    println!(
        "models/get percentiles over {} single lookups: p50 {} ns, p99 {} ns, p99.9 {} ns, max {} ns",
        times.len(),
        at(0.50),
        at(0.99),
        at(0.999),
        times[times.len() - 1]
    );
    let today = concord_models::today();
    c.bench_function("models/verdict", |b| {
        b.iter(|| models.verdict("openai", std::hint::black_box("gpt-4o-mini"), &today))
    });

    let pro = models
        .get("gemini", "gemini-2.5-pro")
        .expect("in the snapshot");
    let plain = Usage {
        cache_read_tokens: Some(400),
        reasoning_tokens: Some(120),
        ..Usage::new(Some(1200), Some(300))
    };
    let long = Usage::new(Some(250_000), Some(2_000));
    for (what, usage) in [
        ("1200 in (400 cached) / 300 out", &plain),
        ("250000 in / 2000 out", &long),
    ] {
        let c = cost(usage, &pro.prices).expect("usage with counts");
        println!("models/cost gemini-2.5-pro {what}: ${}", c.total.dollars());
    }
    c.bench_function("models/cost", |b| {
        b.iter(|| cost(std::hint::black_box(&plain), &pro.prices))
    });
    c.bench_function("models/cost_above_tier", |b| {
        b.iter(|| cost(std::hint::black_box(&long), &pro.prices))
    });

    let _guard = rt.enter();
    // Calls from memory outrun any database, so this recorder's queue fills and drops (counted):
    // what the figure holds is the metering — model, verdict, cost, a record queued or counted.
    let bare = Instant::new("openai", "gpt-4o-mini", 1200, 300);
    let metered = Metered::new(
        Instant::new("openai", "gpt-4o-mini", 1200, 300),
        models.clone(),
        Recorder::new(store.clone()),
    );
    let (request, ctx) = (
        Request::user("Hello there"),
        RuntimeContext::new().model("gpt-4o-mini").tenant("t"),
    );
    c.bench_function("models/generate_bare", |b| {
        b.iter(|| rt.block_on(bare.generate(&request, &ctx)).unwrap())
    });
    c.bench_function("models/generate_metered", |b| {
        b.iter(|| rt.block_on(metered.generate(&request, &ctx)).unwrap())
    });

    let recorder = Recorder::new(store.clone());
    let mut group = c.benchmark_group("models/recorder");
    const BATCH: u64 = 1_000;
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(10);
    let mut next = 0u64;
    group.bench_function("sqlite_1000_records", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                next += 1;
                recorder.record(record(next));
            }
            rt.block_on(recorder.flush());
        })
    });
    group.finish();
    assert_eq!(
        recorder.dropped(),
        0,
        "the bench outran the recorder's queue"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, models);
criterion_main!(benches);
