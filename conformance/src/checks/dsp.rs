//! DSP: the dispatcher — concord-dispatch's, or the subject's own ([`Subject::dispatch`]) —
//! around the subject's provider, against mock vendors that answer slowly, fail on cue, and
//! count what reaches them. Timings are generous for a loaded 2-core machine: each bound says
//! what it allows.
//!
//! [`Subject::dispatch`]: crate::Subject::dispatch

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use concord::{ErrorKind, Provider, Request, RuntimeContext};
use concord_dispatch::{
    BreakerConfig, BreakerState, DispatchConfig, Fallback, Limits, Rate, RetryPolicy, Target,
};
use concord_harness::MockVendor;
use futures_util::StreamExt;

use crate::cx::Cx;
use crate::outcome::{CheckResultOf, Outcome};
use crate::subject::Dispatched;
use crate::{expect_eq, fail};

/// No retries and no breaker unless a check turns them on, so each check sees one layer.
fn config(limits: Limits) -> DispatchConfig {
    DispatchConfig {
        retry: RetryPolicy::default().with_max_retries(0),
        breaker: None,
        limits,
        recovery: concord_dispatch::RecoveryConfig::default(),
    }
}

fn dispatch(cx: &Cx<'_>, config: DispatchConfig) -> CheckResultOf<Dispatched> {
    dispatch_around(cx, cx.subject.provider.clone(), config)
}

fn dispatch_around(
    cx: &Cx<'_>,
    provider: Arc<dyn Provider>,
    config: DispatchConfig,
) -> CheckResultOf<Dispatched> {
    (cx.subject.dispatch)(provider, config)
        .map_err(|e| Outcome::Fail(format!("the dispatcher refused valid settings: {e}")))
}

/// The subject's provider, noting when the dispatcher hands it each call: the release times a
/// rate limit governs. (The vendor sees them later by the provider's own, varying latency — a
/// plugin process relaying calls bunches them — which is not the dispatcher's to control.)
struct Stamped {
    inner: Arc<dyn Provider>,
    started: Instant,
    at: Mutex<Vec<Duration>>,
}

impl Stamped {
    fn around(inner: Arc<dyn Provider>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            started: Instant::now(),
            at: Mutex::new(Vec::new()),
        })
    }

    fn released(&self) -> Vec<Duration> {
        let mut at = self.at.lock().expect("lock").clone();
        at.sort();
        at
    }
}

impl Provider for Stamped {
    concord::wrapped_identity!(inner);

    fn generate<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> futures_util::future::BoxFuture<'a, concord::Result<concord::Response>> {
        self.at.lock().expect("lock").push(self.started.elapsed());
        self.inner.generate(request, ctx)
    }

    fn stream<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> futures_util::future::BoxFuture<'a, concord::Result<concord::EventStream>> {
        self.at.lock().expect("lock").push(self.started.elapsed());
        self.inner.stream(request, ctx)
    }
}

fn arrivals(mock: &MockVendor) -> Vec<Duration> {
    let mut at: Vec<Duration> = mock.requests().iter().map(|r| r.at).collect();
    at.sort();
    at
}

/// Fails unless the release times keep to `rate` with one request of slack: from any request to any
/// later one, no more than the allowance (`rate.requests`) plus one per interval elapsed, plus one.
fn keeps_rate(at: &[Duration], rate: Rate) -> CheckResultOf {
    let interval = (rate.per / rate.requests).as_nanos();
    for i in 0..at.len() {
        for j in i + 1..at.len() {
            let allowed = u128::from(rate.requests) + 1 + (at[j] - at[i]).as_nanos() / interval;
            if (j - i + 1) as u128 > allowed {
                fail!(
                    "{} requests reached the vendor within {} ms; {} per {} ms allows {allowed}: arrivals {at:?}",
                    j - i + 1,
                    (at[j] - at[i]).as_millis(),
                    rate.requests,
                    rate.per.as_millis()
                );
            }
        }
    }
    Ok(())
}

fn refusal_ok(what: &str, e: &concord::Error) -> CheckResultOf<Duration> {
    if e.kind != ErrorKind::RateLimited || !e.retryable {
        fail!(
            "{what}: expected a retryable rate_limited refusal, got {} (retryable {}): {e}",
            e.kind,
            e.retryable
        );
    }
    e.retry_after
        .ok_or_else(|| Outcome::Fail(format!("{what}: a refusal without retry_after: {e}")))
}

async fn consume(p: &dyn Provider, req: &Request, ctx: &RuntimeContext) -> concord::Result<()> {
    let mut events = p.stream(req, ctx).await?;
    while let Some(item) = events.next().await {
        item?;
    }
    Ok(())
}

pub async fn dsp_001(cx: &Cx<'_>) -> CheckResultOf {
    let rate = Rate {
        requests: 4,
        per: Duration::from_millis(400),
    };
    let mock = cx.mock("text").await?;
    let stamped = Stamped::around(cx.subject.provider.clone());
    let d = dispatch_around(
        cx,
        stamped.clone(),
        config(Limits {
            rate: Some(rate),
            queue_timeout: Duration::from_secs(20),
            ..Limits::default()
        }),
    )?;
    let (req, ctx) = (Request::user("hi"), cx.ctx(&mock));
    let calls: Vec<_> = (0..12).map(|_| d.provider.generate(&req, &ctx)).collect();
    for r in futures_util::future::join_all(calls).await {
        r.map_err(|e| Outcome::Fail(format!("a queued call failed: {e}")))?;
    }
    expect_eq!("requests at the vendor", mock.requests().len(), 12);
    keeps_rate(&stamped.released(), rate)
}

pub async fn dsp_002(cx: &Cx<'_>) -> CheckResultOf {
    let mock = cx.mock("text").await?;
    let rate = Rate {
        requests: 1,
        per: Duration::from_millis(600),
    };
    let d = dispatch(
        cx,
        config(Limits {
            rate: Some(rate),
            max_queue_size: 1,
            queue_timeout: Duration::from_secs(10),
            ..Limits::default()
        }),
    )?;
    let (req, ctx) = (Request::user("hi"), cx.ctx(&mock));
    let t0 = Instant::now();
    d.provider
        .generate(&req, &ctx)
        .await
        .map_err(|e| Outcome::Fail(format!("the first call failed: {e}")))?;
    // B waits for the next slot; C, while B waits, finds the queue full.
    let third = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let sent = Instant::now();
        let result = d.provider.generate(&req, &ctx).await;
        (sent, Instant::now(), result)
    };
    let (second, (sent, done, third)) = tokio::join!(d.provider.generate(&req, &ctx), third);
    second.map_err(|e| Outcome::Fail(format!("the queued call failed: {e}")))?;
    let Err(refused) = third else {
        fail!("a call beyond max_queue_size = 1 was served instead of refused");
    };
    if done - sent > Duration::from_millis(250) {
        fail!(
            "the refusal took {} ms: a full queue must refuse at once",
            (done - sent).as_millis()
        );
    }
    let after = refusal_ok("the refusal", &refused)?;
    // The slot after the queued call's: two intervals after the first call.
    let frees = (t0 + rate.per * 2).saturating_duration_since(done);
    let slack = frees / 5 + Duration::from_millis(50);
    if after + slack < frees || after > frees + slack {
        fail!(
            "retry_after is {} ms but the next slot frees in {} ms (20% allowed)",
            after.as_millis(),
            frees.as_millis()
        );
    }
    // Retrying when told finds the slot free.
    tokio::time::sleep(after).await;
    let sent = Instant::now();
    d.provider
        .generate(&req, &ctx)
        .await
        .map_err(|e| Outcome::Fail(format!("the call retried after retry_after failed: {e}")))?;
    let waited = sent.elapsed();
    if waited > after / 5 + Duration::from_millis(150) {
        fail!(
            "a call made retry_after ({} ms) later still waited {} ms",
            after.as_millis(),
            waited.as_millis()
        );
    }
    expect_eq!(
        "requests at the vendor (the refused one never sent)",
        mock.requests().len(),
        3
    );
    Ok(())
}

pub async fn dsp_003(cx: &Cx<'_>) -> CheckResultOf {
    let mock = cx.mock("text").await?;
    let rate = Rate {
        requests: 5,
        per: Duration::from_millis(500),
    };
    let timeout = Duration::from_millis(400);
    let stamped = Stamped::around(cx.subject.provider.clone());
    let d = dispatch_around(
        cx,
        stamped.clone(),
        config(Limits {
            rate: Some(rate),
            max_queue_size: 4,
            queue_timeout: timeout,
            ..Limits::default()
        }),
    )?;
    let (req, ctx) = (Request::user("hi"), cx.ctx(&mock));
    // Ten times the sustainable rate for 400 ms; every call must end within its bound.
    let bound = timeout + Duration::from_secs(3);
    let calls: Vec<_> = (0..40u32)
        .map(|i| {
            let (p, req, ctx) = (&d.provider, &req, &ctx);
            async move {
                tokio::time::sleep(Duration::from_millis(10) * i).await;
                tokio::time::timeout(bound, p.generate(req, ctx)).await
            }
        })
        .collect();
    let (mut served, mut refused) = (0, 0);
    for (i, r) in futures_util::future::join_all(calls)
        .await
        .into_iter()
        .enumerate()
    {
        match r {
            Err(_) => fail!(
                "call {i} neither finished nor was refused within {} ms",
                bound.as_millis()
            ),
            Ok(Ok(_)) => served += 1,
            Ok(Err(e)) => {
                refusal_ok(&format!("call {i}"), &e)?;
                refused += 1;
            }
        }
    }
    expect_eq!("served + refused", served + refused, 40);
    expect_eq!(
        "requests at the vendor = calls served",
        mock.requests().len(),
        served
    );
    if refused == 0 {
        fail!("ten times the rate with a queue of 4 refused nothing");
    }
    keeps_rate(&stamped.released(), rate)
}

pub async fn dsp_004(cx: &Cx<'_>) -> CheckResultOf {
    let mock = cx.mock_slow("text", Duration::from_millis(150)).await?;
    let d = dispatch(
        cx,
        config(Limits {
            max_concurrent: Some(2),
            ..Limits::default()
        }),
    )?;
    let (req, ctx) = (Request::user("hi"), cx.ctx(&mock));
    let p = d.provider.as_ref();
    let streams = cx.caps().streaming;
    let calls: Vec<_> = (0..6)
        .map(|i| {
            let (req, ctx) = (&req, &ctx);
            async move {
                if streams && i % 2 == 1 {
                    consume(p, req, ctx).await
                } else {
                    p.generate(req, ctx).await.map(|_| ())
                }
            }
        })
        .collect();
    for r in futures_util::future::join_all(calls).await {
        r.map_err(|e| Outcome::Fail(format!("a call under the cap failed: {e}")))?;
    }
    let most = mock.observations().max_in_flight();
    if most > 2 {
        fail!("the vendor saw {most} requests at once; max_concurrent is 2 (streams count until they end)");
    }
    Ok(())
}

pub async fn dsp_005(cx: &Cx<'_>) -> CheckResultOf {
    cx.sees_vendor_failures()?;
    let mock = cx.mock("text").await?;
    let cooldown = Duration::from_millis(300);
    let mut d = dispatch(
        cx,
        DispatchConfig {
            breaker: Some(BreakerConfig {
                min_calls: 3,
                failure_ratio: 0.5,
                cooldown,
                max_cooldown: Duration::from_secs(5),
                probes: 1,
                ..BreakerConfig::default()
            }),
            ..config(Limits::default())
        },
    )?;
    let (req, ctx) = (Request::user("hi"), cx.ctx(&mock));
    let call = || d.provider.generate(&req, &ctx);
    let fail_next = |n: usize| {
        mock.queue_scenarios(&vec!["error_server_error"; n])
            .map_err(|e| Outcome::Fail(e.to_string()))
    };
    fail_next(3)?;
    for _ in 0..3 {
        if call().await.is_ok() {
            fail!("the vendor failed but the call succeeded");
        }
    }
    let open = |what: &str, e: concord::Result<concord::Response>| -> CheckResultOf<Duration> {
        match e {
            Err(e) if e.kind == ErrorKind::Unavailable && e.retryable => {
                e.retry_after.ok_or_else(|| {
                    Outcome::Fail(format!(
                        "{what}: an open breaker's refusal needs retry_after"
                    ))
                })
            }
            Err(e) => fail!(
                "{what}: expected unavailable from an open breaker, got {}: {e}",
                e.kind
            ),
            Ok(_) => fail!("{what}: the call went through; the breaker should be open"),
        }
    };
    let after = open("after 3 of 3 failures", call().await)?;
    expect_eq!(
        "requests at the vendor while open",
        mock.requests().len(),
        3
    );
    if after > cooldown + Duration::from_millis(50) {
        fail!(
            "retry_after {} ms exceeds the cooldown ({} ms)",
            after.as_millis(),
            cooldown.as_millis()
        );
    }
    tokio::time::sleep(after + Duration::from_millis(30)).await;
    call().await.map_err(|e| {
        Outcome::Fail(format!(
            "the half-open probe should reach the vendor and succeed: {e}"
        ))
    })?;
    call()
        .await
        .map_err(|e| Outcome::Fail(format!("after a good probe the breaker should close: {e}")))?;
    // Again: open, then a failing probe reopens it for longer.
    fail_next(4)?;
    for _ in 0..3 {
        let _ = call().await;
    }
    let after = open("after failing again", call().await)?;
    tokio::time::sleep(after + Duration::from_millis(30)).await;
    if call().await.is_ok() {
        fail!("the probe should have failed (the vendor was failing)");
    }
    let longer = open("after a failed probe", call().await)?;
    if longer <= cooldown {
        fail!(
            "after a failed probe the cooldown should grow; retry_after is {} ms",
            longer.as_millis()
        );
    }
    let Some(events) = d.events.as_mut() else {
        return Ok(());
    };
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push((e.from, e.to));
    }
    use BreakerState::{Closed, HalfOpen, Open};
    expect_eq!(
        "breaker events",
        seen,
        vec![
            (Closed, Open),
            (Open, HalfOpen),
            (HalfOpen, Closed),
            (Closed, Open),
            (Open, HalfOpen),
            (HalfOpen, Open)
        ]
    );
    Ok(())
}

pub async fn dsp_006(cx: &Cx<'_>) -> CheckResultOf {
    cx.sees_vendor_failures()?;
    let cases = cx
        .fixtures
        .error_cases(cx.protocol())
        .map_err(|e| Outcome::Fail(e.to_string()))?;
    let Some((row, asked)) = cases.iter().find_map(|c| {
        let ms = c.expect["retry_after_ms"].as_u64()?;
        (c.expect["kind"] == "rate_limited" && c.expect["retryable"] == true && ms <= 3000)
            .then(|| (format!("error_{}", c.name), Duration::from_millis(ms)))
    }) else {
        fail!(
            "the fixtures have no short rate_limited row with a retry signal for {}",
            cx.protocol().name()
        );
    };
    let mock = cx.mock("text").await?;
    let (req, ctx) = (Request::user("hi"), cx.ctx(&mock));
    let retrying = |cap: Duration| {
        dispatch(
            cx,
            DispatchConfig {
                retry: RetryPolicy {
                    max_retries: 2,
                    min_delay: Duration::from_millis(10),
                    max_delay: Duration::from_millis(50),
                    retry_after_cap: cap,
                },
                ..config(Limits::default())
            },
        )
    };
    let queue = |s: &str| {
        mock.queue_scenarios(&[s])
            .map_err(|e| Outcome::Fail(e.to_string()))
    };
    let d = retrying(Duration::from_secs(5))?;
    queue(&row)?;
    d.provider
        .generate(&req, &ctx)
        .await
        .map_err(|e| Outcome::Fail(format!("{row} once, then success: the retry failed: {e}")))?;
    let at = arrivals(&mock);
    expect_eq!(format!("requests for {row} then success"), at.len(), 2);
    if at[1] - at[0] + Duration::from_millis(50) < asked {
        fail!(
            "the retry came {} ms after {row}, which asked for {} ms",
            (at[1] - at[0]).as_millis(),
            asked.as_millis()
        );
    }
    // Never a non-retryable kind.
    queue("error_bad_request")?;
    let e = d.provider.generate(&req, &ctx).await.err();
    expect_eq!(
        "bad_request",
        e.map(|e| e.kind),
        Some(ErrorKind::InvalidRequest)
    );
    expect_eq!(
        "requests after a bad request (no retry)",
        mock.requests().len(),
        3
    );
    // A vendor asking for longer than the cap is not retried; its retry_after reaches the caller.
    let capped = retrying(Duration::from_millis(100))?;
    queue(&row)?;
    match capped.provider.generate(&req, &ctx).await {
        Err(e) if e.retry_after.is_some_and(|r| r + Duration::from_millis(1) >= asked) => {}
        other => fail!("{row} asks for more than retry_after_cap: expected its error with retry_after, got {other:?}"),
    }
    expect_eq!(
        "requests when retry_after is over the cap",
        mock.requests().len(),
        4
    );
    Ok(())
}

pub async fn dsp_007(cx: &Cx<'_>) -> CheckResultOf {
    cx.sees_vendor_failures()?;
    let down = cx.mock("error_server_error").await?;
    let up = cx.mock("text").await?;
    let breaker = BreakerConfig {
        min_calls: 2,
        failure_ratio: 0.5,
        cooldown: Duration::from_secs(30),
        max_cooldown: Duration::from_secs(30),
        ..BreakerConfig::default()
    };
    let target = |m: &MockVendor| -> CheckResultOf<Target> {
        let d = dispatch(
            cx,
            DispatchConfig {
                breaker: Some(breaker.clone()),
                ..config(Limits::default())
            },
        )?;
        Ok(Target {
            provider: d.provider,
            ctx: cx.ctx(m),
        })
    };
    let fallback = Fallback::new(vec![target(&down)?, target(&up)?])
        .map_err(|e| Outcome::Fail(e.to_string()))?;
    let req = Request::user("hi");
    fallback
        .generate(&req)
        .await
        .map_err(|e| Outcome::Fail(format!("the second target should answer: {e}")))?;
    if cx.caps().streaming {
        let mut events = fallback.stream(&req).await.map_err(|e| {
            Outcome::Fail(format!(
                "a stream failing before its first event should move on: {e}"
            ))
        })?;
        while let Some(item) = events.next().await {
            item.map_err(|e| Outcome::Fail(format!("the fallback stream failed: {e}")))?;
        }
    } else {
        fallback
            .generate(&req)
            .await
            .map_err(|e| Outcome::Fail(e.to_string()))?;
    }
    expect_eq!("requests at the failing target", down.requests().len(), 2);
    // Its breaker is open now: the next call skips it without sending.
    fallback
        .generate(&req)
        .await
        .map_err(|e| Outcome::Fail(e.to_string()))?;
    expect_eq!(
        "requests at the failing target once its breaker is open",
        down.requests().len(),
        2
    );
    expect_eq!("requests at the second target", up.requests().len(), 3);
    Ok(())
}

pub async fn dsp_008(cx: &Cx<'_>) -> CheckResultOf {
    cx.sees_vendor_failures()?;
    cx.require(cx.caps().streaming, "streaming")?;
    let scenario = cx
        .fixtures
        .scenario(cx.protocol(), "truncated")
        .map_err(|e| Outcome::Fail(e.to_string()))?;
    let delivered = scenario
        .file
        .expect
        .as_ref()
        .and_then(|e| e["error"]["after_text"].as_str())
        .unwrap_or_default()
        .to_owned();
    let mock = cx.mock("text").await?;
    mock.queue_scenarios(&["truncated"])
        .map_err(|e| Outcome::Fail(e.to_string()))?;
    let kept = std::sync::Arc::new(std::sync::Mutex::new(None::<concord_dispatch::Checkpoint>));
    let sink = {
        let kept = kept.clone();
        concord_dispatch::CheckpointSink(std::sync::Arc::new(
            move |c: &concord_dispatch::Checkpoint| {
                *kept.lock().expect("lock") = Some(c.clone());
            },
        ))
    };
    let mut settings = config(Limits::default());
    settings.recovery.on_checkpoint = Some(sink);
    let d = dispatch(cx, settings)?;
    let (req, ctx) = (Request::user("hi"), cx.ctx(&mock));
    let mut events = d
        .provider
        .stream(&req, &ctx)
        .await
        .map_err(|e| Outcome::Fail(format!("the stream did not start: {e}")))?;
    let (mut seen, mut text, mut error) = (Vec::new(), String::new(), None);
    while let Some(item) = events.next().await {
        match item {
            Ok(event) => {
                if let concord::StreamEvent::TextDelta { text: t } = &event {
                    text.push_str(t);
                }
                seen.push(event);
            }
            Err(e) => error = Some(e),
        }
    }
    let count = |f: fn(&concord::StreamEvent) -> bool| seen.iter().filter(|e| f(e)).count();
    let starts = count(|e| matches!(e, concord::StreamEvent::Start { .. }));
    if cx.caps().assistant_prefill {
        if let Some(e) = error {
            fail!(
                "a stream cut after {delivered:?} should be resumed by prefill, but ended with {e}"
            );
        }
        let continuation = cx.expected("text")?.text;
        let want = format!(
            "{delivered}{}",
            if delivered.ends_with(char::is_whitespace) {
                continuation.trim_start()
            } else {
                continuation.as_str()
            }
        );
        expect_eq!(
            "the caller's text: what was delivered, then the continuation, once",
            &text,
            &want
        );
        expect_eq!("start events", starts, 1);
        let sent = mock.requests();
        expect_eq!("requests (the cut one and its continuation)", sent.len(), 2);
        let last = crate::probe::turns(cx.protocol(), &sent[1].body)
            .pop()
            .unwrap_or_default();
        expect_eq!(
            "the continuation's prefill",
            (last.0.as_str(), last.1.as_str()),
            ("assistant", delivered.trim_end())
        );
    } else {
        match &error {
            Some(e) if e.kind == ErrorKind::StreamInterrupted => {}
            other => fail!("without prefill a cut stream must end with stream_interrupted, got {other:?} after {text:?}"),
        }
        expect_eq!("the caller's text", &text, &delivered);
        expect_eq!("requests (nothing replayed)", mock.requests().len(), 1);
        let checkpoint = kept.lock().expect("lock").clone().ok_or_else(|| {
            Outcome::Fail("no checkpoint reached the sink when the stream failed".into())
        })?;
        expect_eq!(
            "the checkpoint's text = what the caller received",
            &checkpoint.text,
            &text
        );
        expect_eq!(
            "the checkpoint's count of delivered events",
            checkpoint.delivered,
            seen.len()
        );
    }
    Ok(())
}

pub async fn dsp_009(cx: &Cx<'_>) -> CheckResultOf {
    let latency = Duration::from_millis(400);
    let mock = cx.mock_slow("text", latency).await?;
    let d = dispatch(
        cx,
        config(Limits {
            max_concurrent: Some(1),
            max_queue_size: 1,
            queue_timeout: Duration::from_secs(5),
            ..Limits::default()
        }),
    )?;
    let spawn = |text: &str| {
        let (p, req, ctx) = (d.provider.clone(), Request::user(text), cx.ctx(&mock));
        tokio::spawn(async move { p.generate(&req, &ctx).await })
    };
    let first = spawn("first");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let queued = spawn("queued");
    tokio::time::sleep(Duration::from_millis(50)).await;
    queued.abort();
    tokio::time::sleep(Duration::from_millis(20)).await;
    // The dropped call's place in the queue is free again...
    let third = spawn("third");
    tokio::time::sleep(Duration::from_millis(30)).await;
    // ...and dropping the call in flight frees its permit.
    first.abort();
    let third = tokio::time::timeout(Duration::from_secs(5), third)
        .await
        .map_err(|_| {
            Outcome::Fail("the third call never finished: a dropped call kept its permit".into())
        })?
        .map_err(|e| Outcome::Fail(format!("the third call's task: {e}")))?;
    third.map_err(|e| {
        Outcome::Fail(format!(
            "the third call should be served once the others were dropped: {e}"
        ))
    })?;
    let requests = mock.requests();
    let prompts: Vec<String> = requests
        .iter()
        .map(|r| {
            crate::probe::turns(cx.protocol(), &r.body)
                .last()
                .map(|t| t.1.clone())
                .unwrap_or_default()
        })
        .collect();
    if prompts.iter().any(|p| p == "queued") {
        fail!("a call dropped while queued reached the vendor: {prompts:?}");
    }
    let third_at = requests
        .iter()
        .zip(&prompts)
        .find(|(_, p)| *p == "third")
        .map(|(r, _)| r.at)
        .ok_or_else(|| {
            Outcome::Fail(format!(
                "the third call never reached the vendor: {prompts:?}"
            ))
        })?;
    let first_at = requests.first().map(|r| r.at).unwrap_or_default();
    if third_at >= first_at + latency - Duration::from_millis(50) {
        fail!("the third call started only when the dropped first call would have ended: its permit was not freed on drop");
    }
    Ok(())
}
