//! What a tenant's rate limit costs per admission, and its budget per reservation: in this
//! process (`TenantLimits`, `Budgets`: a mutex and a map) and shared through Redis on loopback
//! (`SharedRates`, `SharedBudgets`: one Lua script, one round trip). The bench starts a
//! `redis-server` of its own on a free loopback port, and says it skipped when there is none.
//! Besides criterion's means, it prints the latency percentiles of 20,000 admissions one after
//! another, since a limiter's tail is what a call feels.

use std::sync::Arc;
use std::time::{Duration, Instant};

use concord_models::Money;
use concord_server::budget::{BudgetStore, Budgets};
use concord_server::limits::{RateStore, TenantLimits};
use concord_server::shared::{Shared, SharedBudgets, SharedRates};
use concord_server::tenants::{Budget, Period};
use concord_server::{RedisSection, Tenant};
use criterion::Criterion;

fn tenant() -> Tenant {
    // A rate no run reaches: every admission takes the whole path and is admitted.
    Tenant {
        name: "bench".into(),
        disabled: false,
        default_model: None,
        created_at_ms: 0,
        key_hints: Vec::new(),
        budget: None,
        rpm: Some(u64::from(u32::MAX)),
        tpm: Some(1_000_000_000),
    }
}

/// The latency percentiles of 20,000 runs of `once`, one after another.
fn percentiles<F: std::future::Future<Output = ()>>(
    name: &str,
    rt: &tokio::runtime::Runtime,
    mut once: impl FnMut() -> F,
) {
    let mut took: Vec<Duration> = Vec::with_capacity(20_000);
    rt.block_on(async {
        for _ in 0..20_000 {
            let start = Instant::now();
            once().await;
            took.push(start.elapsed());
        }
    });
    took.sort();
    let at = |q: f64| took[((took.len() as f64 * q) as usize).min(took.len() - 1)];
    println!(
        "{name:<28} p50 {:>8.1} µs   p99 {:>8.1} µs   p99.9 {:>8.1} µs   max {:>8.1} µs",
        at(0.50).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6,
        at(0.999).as_secs_f64() * 1e6,
        took[took.len() - 1].as_secs_f64() * 1e6,
    );
}

/// A budget no run spends: every reservation takes the whole path and is admitted.
const BUDGET: Budget = Budget {
    limit: Money(i64::MAX / 4),
    period: Period::Month,
};

/// One call's budget: its worst case reserved, then settled at a smaller real cost.
async fn reserve(budgets: &dyn BudgetStore) {
    let r = budgets
        .reserve("bench", BUDGET, Money(5_000_000))
        .await
        .expect("reserved");
    r.settle(Money(1_000_000));
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut c = Criterion::default().configure_from_args();
    let local = TenantLimits::default();
    let t = tenant();
    c.bench_function("shared_limits/in_process", |b| {
        b.iter(|| std::hint::black_box(local.admit_share(&t, 1)))
    });
    percentiles("shared_limits/in_process", &rt, || async {
        local.admit(&t).await.expect("admitted")
    });
    // The call records a budget's spend starts from: an empty SQLite model database.
    let dir = std::env::temp_dir().join(format!("concord-bench-budgets-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let records = rt.block_on(async {
        let database = concord_models::DatabaseSection {
            data_dir: Some(dir.clone()),
            ..Default::default()
        };
        let (models, _) = database.open_with_store(&|_| None).await.unwrap();
        models.store().clone()
    });
    let local_budgets = Budgets::new(records.clone());
    c.bench_function("shared_limits/budget_in_process", |b| {
        b.iter(|| rt.block_on(reserve(&local_budgets)))
    });
    percentiles("shared_limits/budget_in_process", &rt, || {
        reserve(&local_budgets)
    });

    let Some(mut server) = rt.block_on(concord_harness::RedisServer::start("shared_limits/redis"))
    else {
        let _ = std::fs::remove_dir_all(&dir);
        c.final_summary();
        return;
    };
    let url = server.url();
    let shared = rt.block_on(async {
        Shared::connect(
            &RedisSection {
                url: Some(url.clone()),
                ..RedisSection::default()
            },
            None,
        )
        .await
        .unwrap()
    });
    assert!(shared.state().shared, "Redis answers: {:?}", shared.state());
    let store = SharedRates::new(Arc::clone(&shared));
    c.bench_function("shared_limits/redis", |b| {
        b.iter(|| std::hint::black_box(rt.block_on(store.admit(&t))))
    });
    percentiles("shared_limits/redis", &rt, || async {
        store.admit(&t).await.expect("admitted")
    });
    // A reservation is one round trip; its settlement another, in the background (as a call's
    // is, when it ends), sharing the connection and the runtime with the next reservations.
    let shared_budgets = SharedBudgets::new(Arc::clone(&shared), Budgets::new(records));
    c.bench_function("shared_limits/budget_redis", |b| {
        b.iter(|| rt.block_on(reserve(&shared_budgets)))
    });
    percentiles("shared_limits/budget_redis", &rt, || {
        reserve(&shared_budgets)
    });
    // The floor: one PING on the same connection kind, the round trip every admission pays.
    let mut conn = rt
        .block_on(
            redis::Client::open(url.as_str())
                .unwrap()
                .get_multiplexed_async_connection(),
        )
        .unwrap();
    let mut took: Vec<Duration> = Vec::with_capacity(20_000);
    rt.block_on(async {
        for _ in 0..20_000 {
            let start = Instant::now();
            let _: String = redis::cmd("PING").query_async(&mut conn).await.unwrap();
            took.push(start.elapsed());
        }
    });
    took.sort();
    let at =
        |q: f64| took[((took.len() as f64 * q) as usize).min(took.len() - 1)].as_secs_f64() * 1e6;
    println!(
        "{:<28} p50 {:>8.1} µs   p99 {:>8.1} µs   p99.9 {:>8.1} µs",
        "redis PING (the floor)",
        at(0.5),
        at(0.99),
        at(0.999)
    );
    assert!(shared.state().shared, "Redis still answered at the end");
    server.kill();
    let _ = std::fs::remove_dir_all(&dir);
    c.final_summary();
}
