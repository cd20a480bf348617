use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use concord::{Capabilities, Error as CallError, ErrorKind, StreamEvent, Usage};
use futures_util::StreamExt;

use super::*;

/// Answers after `delay`; a stream sends one text delta per `delay`, `chunks` times. Fails
/// with `server_error` while `down` is set.
struct Slow {
    delay: Duration,
    chunks: usize,
    down: Arc<AtomicBool>,
}

fn slow(delay_ms: u64, chunks: usize) -> Arc<Slow> {
    Arc::new(Slow {
        delay: Duration::from_millis(delay_ms),
        chunks,
        down: Arc::new(AtomicBool::new(false)),
    })
}

impl Provider for Slow {
    fn name(&self) -> &str {
        "slow"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }

    fn generate<'a>(
        &'a self,
        _: &'a Request,
        _: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<Response>> {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            if self.down.load(Ordering::SeqCst) {
                return Err(CallError::new(ErrorKind::ServerError, "slow", "down"));
            }
            Ok(Response::from_text("m", "ok", Usage::new(Some(1), Some(1))))
        })
    }

    fn stream<'a>(
        &'a self,
        _: &'a Request,
        _: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<EventStream>> {
        let delay = self.delay;
        let chunks = self.chunks;
        Box::pin(async move {
            let s = futures_util::stream::iter(0..chunks).then(move |i| async move {
                tokio::time::sleep(delay).await;
                Ok(StreamEvent::TextDelta {
                    text: format!("{i}"),
                })
            });
            Ok(Box::pin(s) as EventStream)
        })
    }
}

fn registry(shutdown_ms: u64) -> Registry {
    let mut o = Options::new(reqwest::Client::new());
    o.settings.shutdown_timeout = Duration::from_millis(shutdown_ms);
    o.env = Arc::new(|_| None);
    Registry::new(o)
}

fn ctx() -> RuntimeContext {
    RuntimeContext::new().model("m")
}

#[tokio::test]
async fn register_refuses_bad_names_and_duplicates_and_unregister_disposes() {
    let r = registry(1000);
    let mut events = r.events();
    r.register_instance("one", slow(0, 1), ctx()).unwrap();
    assert_eq!(
        r.register_instance("one", slow(0, 1), ctx())
            .unwrap_err()
            .kind(),
        "already_exists"
    );
    assert_eq!(
        r.register_instance("Bad Name", slow(0, 1), ctx())
            .unwrap_err()
            .kind(),
        "invalid_name"
    );
    assert!(r.contains("one"));
    assert_eq!(r.names(), ["one"]);
    let held = r.get("one").unwrap();
    r.unregister("one").unwrap();
    assert_eq!(held.info().status, Status::Disposed);
    assert_eq!(r.get("one").unwrap_err().kind(), "not_found");
    assert_eq!(r.unregister("one").unwrap_err().kind(), "not_found");
    let kinds: Vec<&str> = std::iter::from_fn(|| events.try_recv().ok())
        .map(|e| e.kind())
        .collect();
    assert_eq!(kinds, ["provider_registered", "provider_unregistered"]);
}

#[tokio::test]
async fn a_call_finishes_when_its_provider_is_unregistered_meanwhile() {
    let r = registry(1000);
    r.register_instance("p", slow(100, 1), ctx()).unwrap();
    let h = r.get("p").unwrap();
    let call = tokio::spawn(async move { h.generate(&Request::user("hi"), &ctx()).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    r.unregister("p").unwrap();
    assert_eq!(call.await.unwrap().unwrap().text, "ok");
}

#[tokio::test]
async fn shutdown_lets_short_calls_finish_and_cancels_a_stream_past_its_bound() {
    let r = registry(300);
    r.register_instance("short", slow(50, 1), ctx()).unwrap();
    r.register_instance("long", slow(100, 100), ctx()).unwrap();
    let short = r.get("short").unwrap();
    let long = r.get("long").unwrap();
    let short = tokio::spawn(async move { short.generate(&Request::user("hi"), &ctx()).await });
    let stream = tokio::spawn(async move {
        let mut s = long.stream(&Request::user("hi"), &ctx()).await.unwrap();
        let mut last = None;
        while let Some(item) = s.next().await {
            last = Some(item);
        }
        last
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let report = r.shutdown().await;
    assert_eq!((report.finished, report.cancelled), (1, 1), "{report:?}");
    assert!(
        report.elapsed < Duration::from_millis(300) + SHUTDOWN_MARGIN + Duration::from_millis(100)
    );
    assert_eq!(report.disposed, ["long", "short"]);
    assert!(short.await.unwrap().is_ok());
    let last = stream
        .await
        .unwrap()
        .expect("the stream ended with an item");
    assert_eq!(last.unwrap_err().kind, ErrorKind::Cancelled);
    // Nothing new is taken.
    assert_eq!(
        r.register_instance("late", slow(0, 1), ctx())
            .unwrap_err()
            .kind(),
        "shutting_down"
    );
}

#[tokio::test]
async fn health_follows_a_failing_then_recovering_provider() {
    let mut o = Options::new(reqwest::Client::new());
    o.env = Arc::new(|_| None);
    let r = Registry::new(o);
    let p = slow(0, 1);
    let down = p.down.clone();
    r.register_instance("p", p, ctx()).unwrap();
    let mut events = r.events();
    down.store(true, Ordering::SeqCst);
    let after = r.check_health().await;
    assert_eq!(after[0].status.name(), "error", "{:?}", after[0].status);
    down.store(false, Ordering::SeqCst);
    let after = r.check_health().await;
    assert_eq!(after[0].status, Status::Ready);
    assert!(after[0].last_health.as_ref().unwrap().healthy);
    let seen: Vec<bool> = std::iter::from_fn(|| events.try_recv().ok())
        .filter_map(|e| match e {
            Event::HealthChanged { healthy, .. } => Some(healthy),
            _ => None,
        })
        .collect();
    assert_eq!(seen, [false, true]);
}

#[tokio::test]
async fn an_open_breaker_makes_a_provider_error_with_events() {
    use concord_dispatch::{BreakerConfig, DispatchConfig, RetryPolicy};
    let mut o = Options::new(reqwest::Client::new());
    o.env = Arc::new(|_| None);
    o.dispatch = Some(DispatchConfig {
        retry: RetryPolicy::default().with_max_retries(0),
        breaker: Some(BreakerConfig {
            min_calls: 2,
            failure_ratio: 0.5,
            cooldown: Duration::from_secs(60),
            ..BreakerConfig::default()
        }),
        ..DispatchConfig::default()
    });
    let r = Registry::new(o);
    let p = slow(0, 1);
    p.down.store(true, Ordering::SeqCst);
    let provider: Arc<dyn Provider> = p;
    // Behind the dispatcher (as a section would be), which register_instance does not do.
    r.insert(
        "p",
        provider,
        ctx(),
        Placement::section(Source::Api, "api".into()),
    )
    .unwrap();
    let mut events = r.events();
    let h = r.get("p").unwrap();
    for _ in 0..3 {
        let _ = h.generate(&Request::user("hi"), &ctx()).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    let opened = loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(Event::BreakerOpened { .. })) => break true,
            Ok(Ok(_)) => continue,
            _ => break false,
        }
    };
    assert!(opened, "a breaker_opened event");
    assert_eq!(r.get("p").unwrap().info().status.name(), "error");
}
