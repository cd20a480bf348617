use std::sync::atomic::Ordering;
use std::time::Duration;

use concord::{ErrorKind, Provider, Request};

use super::*;
use crate::testing::{ctx, Fake};

fn config() -> BreakerConfig {
    BreakerConfig {
        min_calls: 2,
        failure_ratio: 0.5,
        cooldown: Duration::from_millis(100),
        max_cooldown: Duration::from_millis(300),
        ..BreakerConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opens_fails_fast_half_opens_reopens_longer_then_closes() {
    use ErrorKind::ServerError as E;
    let fake = Fake::failing(vec![E, E, E]);
    let breaker = Breaker::new(fake.clone(), config());
    let mut events = breaker.events();
    let (request, ctx) = (Request::user("hi"), ctx());
    let call = || breaker.generate(&request, &ctx);
    assert!(call().await.is_err());
    assert!(call().await.is_err());
    // Open: refused without reaching the vendor.
    let refused = call().await.unwrap_err();
    assert_eq!(refused.kind, ErrorKind::Unavailable);
    assert!(refused.retryable && refused.retry_after.unwrap() <= Duration::from_millis(100));
    assert_eq!(fake.calls.load(Ordering::SeqCst), 2);
    // After the cooldown a probe goes through; it fails, so the breaker reopens for longer.
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(call().await.unwrap_err().kind, E);
    let refused = call().await.unwrap_err();
    assert!(
        refused.retry_after.unwrap() > Duration::from_millis(100),
        "cooldown doubled"
    );
    tokio::time::sleep(Duration::from_millis(220)).await;
    call().await.unwrap();
    assert_eq!(breaker.health()[0].state, BreakerState::Closed);
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push((e.from, e.to));
    }
    use BreakerState::*;
    assert_eq!(
        seen,
        [
            (Closed, Open),
            (Open, HalfOpen),
            (HalfOpen, Open),
            (Open, HalfOpen),
            (HalfOpen, Closed)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callers_mistakes_do_not_open_it() {
    let fake = Fake::failing(vec![ErrorKind::InvalidRequest; 6]);
    let breaker = Breaker::new(fake.clone(), config());
    for _ in 0..6 {
        assert_eq!(
            breaker
                .generate(&Request::user("hi"), &ctx())
                .await
                .unwrap_err()
                .kind,
            ErrorKind::InvalidRequest
        );
    }
    assert_eq!(fake.calls.load(Ordering::SeqCst), 6);
    assert_eq!(breaker.health()[0].state, BreakerState::Closed);
    assert!(config().validate().is_ok());
    let bad = BreakerConfig {
        failure_ratio: 0.0,
        ..config()
    }
    .validate()
    .unwrap_err();
    assert_eq!(bad.setting, "breaker.failure_ratio");
}

#[test]
fn the_window_stays_small_however_many_calls_pass() {
    let mut w = Window::default();
    let t0 = std::time::Instant::now();
    let window = Duration::from_secs(30);
    for i in 0..100_000u32 {
        let now = t0 + Duration::from_millis(u64::from(i));
        w.push(now, window, i % 4 == 0);
        w.prune(now, window);
    }
    assert!(w.slices.len() <= 11, "{} slices", w.slices.len());
    let (calls, failures) = w.counts();
    // The last 30 s of 100 s at one call per ms, within a slice's width.
    assert!((27_000..=33_000).contains(&calls), "{calls}");
    assert!((calls / 4).abs_diff(failures) <= 1, "{calls} {failures}");
}
