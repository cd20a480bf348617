//! Admission: a rate limit (requests, and tokens per minute), a cap on calls in flight, and a
//! bounded FIFO queue in front of both. A call that cannot start now waits in the queue; a full
//! queue, or a wait longer than `queue_timeout`, ends it at once with `rate_limited`,
//! retryable, and a `retry_after` taken from the schedule (when the next slot frees) or, for the
//! concurrency cap, from how long calls have been taking — never `None`.

mod bucket;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use concord::{
    Error, ErrorKind, EventStream, Provider, Request, Response, RuntimeContext, StreamEvent,
};
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use bucket::Bucket;
pub use bucket::Rate;

use crate::guard::Ended;
use crate::key::{Key, KeyBy};

/// What admission allows. The default admits everything at once (no rate, no cap) with a
/// queue of 64 and a 30 s wait.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Requests per interval, per key.
    pub rate: Option<Rate>,
    /// Tokens per minute, per key: the prompt's estimate (bytes / 4 plus the output cap) is
    /// reserved before the call and corrected by the real usage after it.
    pub tokens_per_minute: Option<u32>,
    /// Which parts of a call make its rate key (the provider always does).
    pub rate_key: KeyBy,
    /// Calls in flight at once, per provider (streams count until they end or are dropped).
    pub max_concurrent: Option<usize>,
    /// Calls in flight at once, per provider and model.
    pub max_concurrent_per_model: Option<usize>,
    /// Calls that may wait; one more is refused at once.
    pub max_queue_size: usize,
    /// The longest a call waits before it is refused.
    pub queue_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            rate: None,
            tokens_per_minute: None,
            rate_key: KeyBy::default(),
            max_concurrent: None,
            max_concurrent_per_model: None,
            max_queue_size: 64,
            queue_timeout: Duration::from_secs(30),
        }
    }
}

impl Limits {
    /// Refuses values that cannot work, naming the setting.
    pub fn validate(&self) -> Result<(), crate::ConfigError> {
        let bad = |setting: &'static str, why: &str| {
            Err(crate::ConfigError::new(setting, why.to_owned()))
        };
        if let Some(r) = self.rate {
            if r.requests == 0 || r.per.is_zero() {
                return bad(
                    "limits.rate",
                    "needs at least one request in a non-zero interval",
                );
            }
        }
        if self.tokens_per_minute == Some(0) {
            return bad("limits.tokens_per_minute", "must be at least 1");
        }
        if self.max_concurrent == Some(0) || self.max_concurrent_per_model == Some(0) {
            return bad(
                "limits.max_concurrent",
                "must be at least 1 (leave unset for no cap)",
            );
        }
        if self.queue_timeout.is_zero() && self.max_queue_size > 0 {
            return bad(
                "limits.queue_timeout",
                "must be above zero when calls may wait",
            );
        }
        Ok(())
    }
}

/// What admission has seen, for health pages and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitStats {
    /// Calls waiting now.
    pub queued: usize,
    /// Calls in flight now.
    pub in_flight: usize,
    /// Calls refused because the queue was full.
    pub refused_full: usize,
    /// Calls refused because their wait would exceed `queue_timeout`.
    pub refused_timeout: usize,
}

/// How long calls have been taking (an exponentially weighted mean), for the `retry_after` of
/// a call refused by the concurrency cap: when a slot frees depends on how long the calls in
/// flight take.
#[derive(Debug, Default)]
struct Durations {
    mean: Option<Duration>,
}

impl Durations {
    fn record(&mut self, d: Duration) {
        self.mean = Some(match self.mean {
            Some(m) => (m * 7 + d) / 8,
            None => d,
        });
    }
}

struct State {
    limits: Limits,
    rates: HashMap<Key, Bucket>,
    tokens: HashMap<Key, Bucket>,
    slots: HashMap<Key, Arc<Semaphore>>,
    durations: Durations,
    stats: LimitStats,
}

/// The admission layer around a provider.
pub struct Limiter<P> {
    inner: P,
    state: Arc<Mutex<State>>,
    queued: Arc<AtomicUsize>,
}

/// Leaves the queue when dropped (served, refused, or the caller gave up).
struct InQueue {
    queued: Arc<AtomicUsize>,
    provider: String,
}

impl InQueue {
    fn enter(queued: &Arc<AtomicUsize>, provider: &str) -> Self {
        let depth = queued.fetch_add(1, Ordering::SeqCst) + 1;
        crate::metrics::queue(provider, depth);
        Self {
            queued: queued.clone(),
            provider: provider.to_owned(),
        }
    }
}

impl Drop for InQueue {
    fn drop(&mut self) {
        let depth = self.queued.fetch_sub(1, Ordering::SeqCst) - 1;
        crate::metrics::queue(&self.provider, depth);
    }
}

/// What an admitted call holds until it ends: its concurrency permits. Dropped without
/// [`Admitted::done`] (the caller gave up mid-call) it still returns them and leaves the count.
pub(crate) struct Admitted {
    provider: String,
    _permits: Vec<OwnedSemaphorePermit>,
    state: Arc<Mutex<State>>,
    started: Instant,
    tokens: Option<(Key, u32)>,
    counted: bool,
}

impl Admitted {
    /// The call ended (with `usage` when it reported any).
    fn done(mut self, usage: Option<&concord::Usage>) {
        self.end(usage);
    }

    fn end(&mut self, usage: Option<&concord::Usage>) {
        if !std::mem::replace(&mut self.counted, false) {
            return;
        }
        let mut state = self.state.lock().expect("limiter lock");
        state.durations.record(self.started.elapsed());
        state.stats.in_flight = state.stats.in_flight.saturating_sub(1);
        crate::metrics::in_flight(&self.provider, state.stats.in_flight);
        if let (Some((key, estimate)), Some(u)) = (&self.tokens, usage) {
            if let (Some(i), Some(o)) = (u.input_tokens, u.output_tokens) {
                let delta = (i + o) as i64 - i64::from(*estimate);
                if let Some(bucket) = state.tokens.get_mut(key) {
                    bucket.correct(Instant::now(), delta);
                }
            }
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.end(None);
    }
}

/// A prompt's token estimate: its text's bytes / 4, plus the output cap (or 256).
fn estimate(request: &Request, ctx: &RuntimeContext) -> u32 {
    let bytes: usize = request
        .messages
        .iter()
        .map(|m| match m {
            concord::Message::System { content } | concord::Message::Tool { content, .. } => {
                content.len()
            }
            concord::Message::Assistant { content, .. } => content.len(),
            concord::Message::User { content } => content
                .iter()
                .map(|p| match p {
                    concord::ContentPart::Text { text } => text.len(),
                    // An image costs the vendor a few hundred tokens whatever its size.
                    _ => 1024,
                })
                .sum(),
        })
        .sum();
    let output = request
        .params
        .max_output_tokens
        .or(ctx.settings.max_output_tokens)
        .unwrap_or(256);
    (bytes / 4) as u32 + output
}

impl<P: Provider> Limiter<P> {
    /// `inner` behind `limits` (check them first with [`Limits::validate`]).
    pub fn new(inner: P, limits: Limits) -> Self {
        Self {
            inner,
            state: Arc::new(Mutex::new(State {
                limits,
                rates: HashMap::new(),
                tokens: HashMap::new(),
                slots: HashMap::new(),
                durations: Durations::default(),
                stats: LimitStats::default(),
            })),
            queued: Arc::default(),
        }
    }

    /// Changes the limits while calls run: rates apply from the next reservation; a new
    /// concurrency cap applies to keys seen from now on.
    pub fn set_limits(&self, limits: Limits) -> Result<(), crate::ConfigError> {
        limits.validate()?;
        let mut state = self.state.lock().expect("limiter lock");
        if let Some(rate) = limits.rate {
            state.rates.values_mut().for_each(|b| b.set_rate(rate));
        } else {
            state.rates.clear();
        }
        if let Some(tpm) = limits.tokens_per_minute {
            state
                .tokens
                .values_mut()
                .for_each(|b| b.set_rate(Rate::per_minute(tpm)));
        } else {
            state.tokens.clear();
        }
        if limits.max_concurrent != state.limits.max_concurrent
            || limits.max_concurrent_per_model != state.limits.max_concurrent_per_model
        {
            state.slots.clear();
        }
        state.limits = limits;
        Ok(())
    }

    /// What admission has seen.
    pub fn stats(&self) -> LimitStats {
        let mut stats = self.state.lock().expect("limiter lock").stats;
        stats.queued = self.queued.load(Ordering::SeqCst);
        stats
    }

    fn refuse(&self, why: String, retry_after: Duration, full: bool) -> Error {
        crate::metrics::rejected(
            self.inner.name(),
            if full { "queue_full" } else { "queue_timeout" },
        );
        {
            let mut state = self.state.lock().expect("limiter lock");
            if full {
                state.stats.refused_full += 1;
            } else {
                state.stats.refused_timeout += 1;
            }
        }
        tracing::info!(
            provider = self.inner.name(),
            retry_after_ms = retry_after.as_millis() as u64,
            "{why}"
        );
        Error::new(ErrorKind::RateLimited, self.inner.name(), why)
            .with_retryable(true)
            .with_retry_after(Some(retry_after.max(Duration::from_millis(1))))
    }

    /// Waits for the call's turn, or refuses it.
    async fn admit(&self, request: &Request, ctx: &RuntimeContext) -> Result<Admitted, Error> {
        let arrived = Instant::now();
        let name = self.inner.name();
        // Reserve the rate slots and find the semaphores under one lock, so the queue is FIFO.
        let (start, semaphores, limits, tokens, mean, in_queue) = {
            let mut state = self.state.lock().expect("limiter lock");
            let limits = state.limits.clone();
            let rate_key = Key::of(name, ctx, limits.rate_key);
            let mut start = arrived;
            if let Some(rate) = limits.rate {
                let bucket = state
                    .rates
                    .entry(rate_key.clone())
                    .or_insert_with(|| Bucket::new(rate, arrived));
                start = start.max(bucket.next_start(arrived));
            }
            if let Some(tpm) = limits.tokens_per_minute {
                let bucket = state
                    .tokens
                    .entry(rate_key.clone())
                    .or_insert_with(|| Bucket::new(Rate::per_minute(tpm), arrived));
                start = start.max(bucket.next_start(arrived));
            }
            let mut semaphores = Vec::new();
            for (cap, by) in [
                (limits.max_concurrent, KeyBy::default()),
                (
                    limits.max_concurrent_per_model,
                    KeyBy {
                        model: true,
                        tenant: false,
                    },
                ),
            ] {
                if let Some(cap) = cap {
                    let key = Key::of(name, ctx, by);
                    semaphores.push(
                        state
                            .slots
                            .entry(key)
                            .or_insert_with(|| Arc::new(Semaphore::new(cap)))
                            .clone(),
                    );
                }
            }
            let wait = start - arrived;
            let must_wait =
                !wait.is_zero() || semaphores.iter().any(|s| s.available_permits() == 0);
            if must_wait && self.queued.load(Ordering::SeqCst) >= limits.max_queue_size {
                drop(state);
                let after = if wait.is_zero() {
                    self.drain_estimate()
                } else {
                    wait
                };
                return Err(self.refuse(
                    format!(
                        "the queue is full ({} calls waiting, limits.max_queue_size); retry after {} ms",
                        limits.max_queue_size,
                        after.as_millis()
                    ),
                    after,
                    true,
                ));
            }
            if wait > limits.queue_timeout {
                drop(state);
                return Err(self.refuse(
                    format!(
                        "the rate limit's next free slot is {} ms away, past limits.queue_timeout ({} ms)",
                        wait.as_millis(),
                        limits.queue_timeout.as_millis()
                    ),
                    wait,
                    false,
                ));
            }
            // Committed: the slots are this call's.
            let mut tokens = None;
            if limits.rate.is_some() {
                state
                    .rates
                    .get_mut(&rate_key)
                    .expect("made above")
                    .reserve(arrived, 1);
            }
            if limits.tokens_per_minute.is_some() {
                let cost = estimate(request, ctx);
                state
                    .tokens
                    .get_mut(&rate_key)
                    .expect("made above")
                    .reserve(arrived, cost);
                tokens = Some((rate_key, cost));
            }
            // Counted under the lock, so two calls cannot both take the last place.
            let in_queue = InQueue::enter(&self.queued, name);
            (
                start,
                semaphores,
                limits,
                tokens,
                state.durations.mean,
                in_queue,
            )
        };
        // Only when there is something to wait for: tokio rounds any sleep up to its 1 ms tick.
        if start > Instant::now() {
            tokio::time::sleep_until(start.into()).await;
        }
        let deadline = arrived + limits.queue_timeout;
        let mut permits = Vec::with_capacity(semaphores.len());
        for semaphore in semaphores {
            let acquire = semaphore.acquire_owned();
            match tokio::time::timeout_at(deadline.into(), acquire).await {
                Ok(Ok(permit)) => permits.push(permit),
                // Semaphores here are never closed.
                Ok(Err(_)) => unreachable!("the limiter never closes its semaphores"),
                Err(_) => {
                    drop(in_queue);
                    let after = mean.unwrap_or(limits.queue_timeout);
                    return Err(self.refuse(
                        format!(
                            "no concurrency slot freed within limits.queue_timeout ({} ms)",
                            limits.queue_timeout.as_millis()
                        ),
                        after,
                        false,
                    ));
                }
            }
        }
        drop(in_queue);
        crate::metrics::waited(name, arrived.elapsed());
        let state = self.state.clone();
        {
            let mut s = state.lock().expect("limiter lock");
            s.stats.in_flight += 1;
            crate::metrics::in_flight(name, s.stats.in_flight);
        }
        Ok(Admitted {
            provider: name.to_owned(),
            _permits: permits,
            state,
            started: Instant::now(),
            tokens,
            counted: true,
        })
    }

    /// When a concurrency slot is likely to free: the mean call duration so far.
    fn drain_estimate(&self) -> Duration {
        let state = self.state.lock().expect("limiter lock");
        state.durations.mean.unwrap_or(state.limits.queue_timeout)
    }
}

impl<P: Provider> Provider for Limiter<P> {
    concord::wrapped_identity!(inner);

    fn generate<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<Response>> {
        Box::pin(async move {
            let admitted = self.admit(request, ctx).await?;
            let result = self.inner.generate(request, ctx).await;
            admitted.done(result.as_ref().ok().map(|r| &r.usage));
            result
        })
    }

    /// The permits travel with the stream and are returned when it ends or is dropped.
    fn stream<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<EventStream>> {
        Box::pin(async move {
            let admitted = self.admit(request, ctx).await?;
            let events = match self.inner.stream(request, ctx).await {
                Ok(events) => events,
                Err(e) => {
                    admitted.done(None);
                    return Err(e);
                }
            };
            Ok(crate::guard::on_end(events, move |ended| {
                let usage = match ended {
                    Ended::Finished(StreamEvent::Finish { usage, .. }) => Some(usage),
                    _ => None,
                };
                admitted.done(usage.as_ref());
            })
            .boxed())
        })
    }
}

#[cfg(test)]
mod tests;
