//! The dispatcher's cost: one `generate` through every layer (recovery, retry, breaker,
//! limiter with a rate, a token budget and a concurrency cap, all uncontended) against the same
//! call on the bare provider; and the limiter's admissions per second with 64 tasks contending
//! on 2 cores. The provider answers from memory, so what is measured is the layers alone.

use std::sync::Arc;
use std::time::Duration;

use concord::{Provider, Request, RuntimeContext};
use concord_benches::Instant;
use concord_dispatch::{BreakerConfig, DispatchConfig, Dispatcher, Limits, Rate};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn all_layers(limits: Limits) -> Dispatcher {
    Dispatcher::new(
        Instant::new("instant", "m", 10, 2),
        DispatchConfig {
            breaker: Some(BreakerConfig::default()),
            limits,
            ..DispatchConfig::default()
        },
    )
    .expect("valid settings")
}

fn overhead(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (request, ctx) = (
        Request::user("Hello there"),
        RuntimeContext::new().model("m").tenant("t"),
    );
    // Limits far above what the loop reaches: every layer runs, none waits.
    let dispatcher = all_layers(Limits {
        rate: Some(Rate {
            requests: u32::MAX,
            per: Duration::from_secs(1),
        }),
        tokens_per_minute: Some(u32::MAX),
        max_concurrent: Some(1024),
        max_concurrent_per_model: Some(1024),
        ..Limits::default()
    });
    let bare = Instant::new("instant", "m", 10, 2);
    let mut group = c.benchmark_group("dispatch_overhead");
    group.bench_function("bare", |b| {
        b.iter(|| runtime.block_on(bare.generate(&request, &ctx)).unwrap())
    });
    // Each layer alone, to see where the cost is.
    let limiter = concord_dispatch::Limiter::new(
        Instant::new("instant", "m", 10, 2),
        Limits {
            max_concurrent: Some(1024),
            ..Limits::default()
        },
    );
    group.bench_function("limiter", |b| {
        b.iter(|| runtime.block_on(limiter.generate(&request, &ctx)).unwrap())
    });
    let breaker = concord_dispatch::Breaker::new(
        Instant::new("instant", "m", 10, 2),
        BreakerConfig::default(),
    );
    group.bench_function("breaker", |b| {
        b.iter(|| runtime.block_on(breaker.generate(&request, &ctx)).unwrap())
    });
    let retry = concord_dispatch::Retry::new(
        Instant::new("instant", "m", 10, 2),
        concord_dispatch::RetryPolicy::default(),
    );
    group.bench_function("retry", |b| {
        b.iter(|| runtime.block_on(retry.generate(&request, &ctx)).unwrap())
    });
    group.bench_function("all_layers", |b| {
        b.iter(|| {
            runtime
                .block_on(dispatcher.generate(&request, &ctx))
                .unwrap()
        })
    });
    group.finish();
}

fn contention(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dispatcher = Arc::new(all_layers(Limits {
        max_concurrent: Some(8),
        max_queue_size: 1024,
        ..Limits::default()
    }));
    const TASKS: u64 = 64;
    const CALLS: u64 = 16;
    let mut group = c.benchmark_group("dispatch_contention");
    group.throughput(Throughput::Elements(TASKS * CALLS));
    group.bench_function("64_tasks_cap_8", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let tasks: Vec<_> = (0..TASKS)
                    .map(|_| {
                        let d = dispatcher.clone();
                        tokio::spawn(async move {
                            let (request, ctx) =
                                (Request::user("hi"), RuntimeContext::new().model("m"));
                            for _ in 0..CALLS {
                                d.generate(&request, &ctx).await.unwrap();
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            })
        })
    });
    group.finish();
}

criterion_group!(benches, overhead, contention);
criterion_main!(benches);
