use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use concord::{ErrorKind, Provider, Request};
use futures_util::StreamExt;

use super::*;
use crate::testing::{ctx, Fake};

fn limits() -> Limits {
    Limits {
        queue_timeout: Duration::from_secs(2),
        ..Limits::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_concurrency_cap_holds_and_streams_keep_their_permit_until_they_end() {
    let fake = Fake::slow(Duration::from_millis(30));
    let limiter = Arc::new(Limiter::new(
        fake.clone(),
        Limits {
            max_concurrent: Some(2),
            ..limits()
        },
    ));
    let calls = (0..8).map(|_| {
        let l = limiter.clone();
        tokio::spawn(async move { l.generate(&Request::user("hi"), &ctx()).await })
    });
    for c in futures_util::future::join_all(calls).await {
        c.unwrap().unwrap();
    }
    assert_eq!(fake.max_in_flight.load(Ordering::SeqCst), 2);
    // A stream holds its slot until it ends or is dropped.
    let stream = limiter.stream(&Request::user("hi"), &ctx()).await.unwrap();
    assert_eq!(limiter.stats().in_flight, 1);
    drop(stream);
    assert_eq!(limiter.stats().in_flight, 0);
    let mut stream = limiter.stream(&Request::user("hi"), &ctx()).await.unwrap();
    while stream.next().await.is_some() {}
    assert_eq!(limiter.stats().in_flight, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_at_once_with_the_time_of_the_next_slot() {
    let fake = Fake::slow(Duration::ZERO);
    let limiter = Arc::new(Limiter::new(
        fake.clone(),
        Limits {
            rate: Some(Rate {
                requests: 2,
                per: Duration::from_millis(400),
            }),
            max_queue_size: 1,
            ..limits()
        },
    ));
    // Two go at once (the burst), one waits 200 ms, the fourth finds the queue full.
    let started = Instant::now();
    let l = limiter.clone();
    let queued = tokio::spawn(async move {
        let _ = l.generate(&Request::user("a"), &ctx()).await;
        let _ = l.generate(&Request::user("b"), &ctx()).await;
        l.generate(&Request::user("c"), &ctx()).await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let refused = limiter
        .generate(&Request::user("d"), &ctx())
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(150),
        "refused at once"
    );
    assert_eq!(refused.kind, ErrorKind::RateLimited);
    assert!(refused.retryable);
    let after = refused.retry_after.expect("a retry_after");
    // The next free slot after the waiting one: 400 ms from the start, so ~350 ms from now.
    assert!(
        after > Duration::from_millis(250) && after <= Duration::from_millis(400),
        "{after:?}"
    );
    queued.await.unwrap().unwrap();
    assert_eq!(
        fake.calls.load(Ordering::SeqCst),
        3,
        "the refused call never reached the vendor"
    );
    assert_eq!(limiter.stats().refused_full, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_past_the_timeout_is_refused_and_a_dropped_call_leaves_the_queue() {
    let fake = Fake::slow(Duration::ZERO);
    let limiter = Arc::new(Limiter::new(
        fake.clone(),
        Limits {
            rate: Some(Rate {
                requests: 1,
                per: Duration::from_secs(1),
            }),
            queue_timeout: Duration::from_millis(300),
            ..limits()
        },
    ));
    limiter.generate(&Request::user("a"), &ctx()).await.unwrap();
    let e = limiter
        .generate(&Request::user("b"), &ctx())
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::RateLimited);
    assert!(e.retry_after.unwrap() > Duration::from_millis(800));
    assert_eq!(limiter.stats().refused_timeout, 1);

    let cap = Arc::new(Limiter::new(
        Fake::slow(Duration::from_millis(500)),
        Limits {
            max_concurrent: Some(1),
            max_queue_size: 1,
            ..limits()
        },
    ));
    let c = cap.clone();
    let busy = tokio::spawn(async move { c.generate(&Request::user("a"), &ctx()).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let c = cap.clone();
    let waiting = tokio::spawn(async move { c.generate(&Request::user("b"), &ctx()).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(cap.stats().queued, 1);
    waiting.abort();
    let _ = waiting.await;
    assert_eq!(cap.stats().queued, 0, "the dropped call left the queue");
    busy.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_change_at_run_time_and_bad_ones_are_refused() {
    let limiter = Limiter::new(Fake::slow(Duration::ZERO), limits());
    let bad = limiter
        .set_limits(Limits {
            max_concurrent: Some(0),
            ..limits()
        })
        .unwrap_err();
    assert_eq!(bad.setting, "limits.max_concurrent");
    limiter
        .set_limits(Limits {
            rate: Some(Rate {
                requests: 1,
                per: Duration::from_secs(10),
            }),
            queue_timeout: Duration::from_millis(100),
            ..limits()
        })
        .unwrap();
    limiter.generate(&Request::user("a"), &ctx()).await.unwrap();
    assert!(limiter.generate(&Request::user("b"), &ctx()).await.is_err());
    limiter.set_limits(limits()).unwrap();
    limiter.generate(&Request::user("c"), &ctx()).await.unwrap();
}

fn tenant(t: &str) -> concord::RuntimeContext {
    ctx().tenant(t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_quota_holds_per_tenant_under_the_providers_rate() {
    let fake = Fake::slow(Duration::ZERO);
    let limiter = Limiter::new(
        fake.clone(),
        Limits {
            rate: Some(Rate::per_minute(3)),
            tenant_rate: Some(Rate::per_minute(2)),
            queue_timeout: Duration::from_millis(100),
            ..limits()
        },
    );
    for _ in 0..2 {
        limiter
            .generate(&Request::user("a"), &tenant("a"))
            .await
            .unwrap();
    }
    let e = limiter
        .generate(&Request::user("a"), &tenant("a"))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::RateLimited, "tenant a spent its quota");
    assert!(e.retry_after.unwrap() > Duration::from_secs(20), "{e}");
    limiter
        .generate(&Request::user("b"), &tenant("b"))
        .await
        .expect("tenant b has its own quota");
    let e = limiter
        .generate(&Request::user("c"), &tenant("c"))
        .await
        .unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::RateLimited,
        "the provider's rate counts every tenant"
    );
    assert_eq!(fake.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_token_budget_is_corrected_by_the_real_usage() {
    // The fake reports 15 tokens a call; the estimate of a 4-byte prompt is 1 + 256.
    let limiter = Limiter::new(
        Fake::slow(Duration::ZERO),
        Limits {
            tenant_tokens_per_minute: Some(300),
            queue_timeout: Duration::from_millis(50),
            ..limits()
        },
    );
    // Without the correction the second call (257 + 257 > 300) would wait about a minute.
    for _ in 0..10 {
        limiter
            .generate(&Request::user("abcd"), &tenant("a"))
            .await
            .expect("the budget follows the real usage");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_cap_holds_per_tenant() {
    let fake = Fake::slow(Duration::from_millis(40));
    let limiter = Arc::new(Limiter::new(
        fake.clone(),
        Limits {
            max_concurrent_per_tenant: Some(1),
            ..limits()
        },
    ));
    let started = Instant::now();
    let calls = ["a", "a", "b", "b"].map(|t| {
        let l = limiter.clone();
        tokio::spawn(async move { l.generate(&Request::user("hi"), &tenant(t)).await })
    });
    for c in futures_util::future::join_all(calls).await {
        c.unwrap().unwrap();
    }
    // Two tenants, one call each at a time: two rounds, never four calls at once.
    assert_eq!(fake.max_in_flight.load(Ordering::SeqCst), 2);
    assert!(started.elapsed() >= Duration::from_millis(80));
    assert_eq!(
        limiter
            .set_limits(Limits {
                max_concurrent_per_tenant: Some(0),
                ..limits()
            })
            .unwrap_err()
            .setting,
        "limits.max_concurrent_per_tenant"
    );
}
