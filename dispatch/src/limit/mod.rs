//! Admission: rate limits (requests, and tokens per minute), caps on calls in flight, and a
//! bounded FIFO queue in front of both. A call that cannot start now waits in the queue; a full
//! queue, or a wait longer than `queue_timeout`, ends it at once with `rate_limited`,
//! retryable, and a `retry_after` taken from the schedule (when the next slot frees) or, for a
//! cap, from how long calls have been taking — never `None`.
//!
//! Every limit is kept per key: the provider, and the model or the tenant where it says so
//! (`rate_key`; the `tenant_*` limits are per provider and tenant, what a gateway's tenant
//! quota is). `rate.rs` schedules the rates, `tokens.rs` estimates and corrects token costs,
//! `concurrency.rs` holds the caps, `queue.rs` the queue and its refusals; this file admits a
//! call through all of them under one lock, so the queue stays FIFO.

mod concurrency;
mod queue;
mod rate;
mod tokens;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use concord::{EventStream, Provider, Request, Response, RuntimeContext};
use futures_util::future::BoxFuture;
use tokio::sync::OwnedSemaphorePermit;

pub use rate::Rate;

use crate::hook::{self, Hook, Outcome};
use crate::key::KeyBy;
use concurrency::{Durations, Slots};
use queue::{Queue, Refusal};
use rate::{Reserved, Rule, Schedules, Unit};

/// What admission allows. The default admits everything at once (no rate, no cap) with a
/// queue of 64 and a 30 s wait.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Requests per interval, per key.
    pub rate: Option<Rate>,
    /// Tokens per minute, per key: the prompt's estimate (bytes / 4 plus the output cap) is
    /// reserved before the call and corrected by the real usage after it.
    pub tokens_per_minute: Option<u32>,
    /// Which parts of a call make the key of `rate` and `tokens_per_minute` (the provider
    /// always does).
    pub rate_key: KeyBy,
    /// Requests per interval per provider and tenant (a tenant's quota; calls without a tenant
    /// share one).
    pub tenant_rate: Option<Rate>,
    /// Tokens per minute per provider and tenant.
    pub tenant_tokens_per_minute: Option<u32>,
    /// Calls in flight at once, per provider (streams count until they end or are dropped).
    pub max_concurrent: Option<usize>,
    /// Calls in flight at once, per provider and model.
    pub max_concurrent_per_model: Option<usize>,
    /// Calls in flight at once, per provider and tenant.
    pub max_concurrent_per_tenant: Option<usize>,
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
            tenant_rate: None,
            tenant_tokens_per_minute: None,
            max_concurrent: None,
            max_concurrent_per_model: None,
            max_concurrent_per_tenant: None,
            max_queue_size: 64,
            queue_timeout: Duration::from_secs(30),
        }
    }
}

const BY_TENANT: KeyBy = KeyBy {
    model: false,
    tenant: true,
};

const BY_MODEL: KeyBy = KeyBy {
    model: true,
    tenant: false,
};

impl Limits {
    /// Refuses values that cannot work, naming the setting.
    pub fn validate(&self) -> Result<(), crate::ConfigError> {
        let bad = |setting: &'static str, why: &str| {
            Err(crate::ConfigError::new(setting, why.to_owned()))
        };
        for (setting, rate) in [
            ("limits.rate", self.rate),
            ("limits.tenant_rate", self.tenant_rate),
        ] {
            if rate.is_some_and(|r| r.requests == 0 || r.per.is_zero()) {
                return bad(setting, "needs at least one request in a non-zero interval");
            }
        }
        for (setting, tpm) in [
            ("limits.tokens_per_minute", self.tokens_per_minute),
            (
                "limits.tenant_tokens_per_minute",
                self.tenant_tokens_per_minute,
            ),
        ] {
            if tpm == Some(0) {
                return bad(setting, "must be at least 1");
            }
        }
        for (setting, cap) in [
            ("limits.max_concurrent", self.max_concurrent),
            (
                "limits.max_concurrent_per_model",
                self.max_concurrent_per_model,
            ),
            (
                "limits.max_concurrent_per_tenant",
                self.max_concurrent_per_tenant,
            ),
        ] {
            if cap == Some(0) {
                return bad(setting, "must be at least 1 (leave unset for no cap)");
            }
        }
        if self.queue_timeout.is_zero() && self.max_queue_size > 0 {
            return bad(
                "limits.queue_timeout",
                "must be above zero when calls may wait",
            );
        }
        Ok(())
    }

    /// The rate rules, in a fixed order (so a changed rate keeps its schedule).
    fn rules(&self) -> Vec<Rule> {
        let requests = |rate: Option<Rate>, by| {
            rate.map(|rate| Rule {
                rate,
                by,
                unit: Unit::Requests,
            })
        };
        let tokens = |tpm: Option<u32>, by| {
            tpm.map(|tpm| Rule {
                rate: Rate::per_minute(tpm),
                by,
                unit: Unit::Tokens,
            })
        };
        [
            requests(self.rate, self.rate_key),
            tokens(self.tokens_per_minute, self.rate_key),
            requests(self.tenant_rate, BY_TENANT),
            tokens(self.tenant_tokens_per_minute, BY_TENANT),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The concurrency caps and what each is kept per.
    fn caps(&self) -> Vec<(usize, KeyBy)> {
        [
            (self.max_concurrent, KeyBy::default()),
            (self.max_concurrent_per_model, BY_MODEL),
            (self.max_concurrent_per_tenant, BY_TENANT),
        ]
        .into_iter()
        .filter_map(|(cap, by)| cap.map(|c| (c, by)))
        .collect()
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

struct State {
    limits: Limits,
    schedules: Schedules,
    slots: Slots,
    durations: Durations,
    stats: LimitStats,
}

/// The admission layer around a provider.
pub struct Limiter<P> {
    inner: P,
    admission: Admission,
}

/// The limiter's hook: its state, shared with the calls it admitted.
struct Admission {
    state: Arc<Mutex<State>>,
    queue: Queue,
}

/// What an admitted call holds until it ends: its permits and what it reserved.
struct Admitted {
    provider: String,
    _permits: Vec<OwnedSemaphorePermit>,
    state: Arc<Mutex<State>>,
    started: Instant,
    reserved: Reserved,
}

impl Hook for Admission {
    type Ticket = Admitted;

    async fn enter(
        &self,
        provider: &str,
        request: &Request,
        ctx: &RuntimeContext,
    ) -> concord::Result<Admitted> {
        self.admit(provider, request, ctx).await
    }

    fn finish(admitted: Admitted, outcome: Outcome<'_>) {
        let mut state = admitted.state.lock().expect("limiter lock");
        state.durations.record(admitted.started.elapsed());
        state.stats.in_flight = state.stats.in_flight.saturating_sub(1);
        crate::metrics::in_flight(&admitted.provider, state.stats.in_flight);
        if let Outcome::Answered(Some(usage)) = outcome {
            if let Some(used) = tokens::used(usage) {
                state
                    .schedules
                    .correct_tokens(&admitted.reserved, used, Instant::now());
            }
        }
    }
}

impl Admission {
    fn refuse(
        &self,
        provider: &str,
        why: String,
        retry_after: Duration,
        r: Refusal,
    ) -> concord::Error {
        {
            let mut state = self.state.lock().expect("limiter lock");
            match r {
                Refusal::Full => state.stats.refused_full += 1,
                Refusal::Timeout => state.stats.refused_timeout += 1,
            }
        }
        queue::refuse(provider, why, retry_after, r)
    }

    /// Waits for the call's turn, or refuses it.
    async fn admit(
        &self,
        provider: &str,
        request: &Request,
        ctx: &RuntimeContext,
    ) -> concord::Result<Admitted> {
        let arrived = Instant::now();
        // Reserve the rate slots and find the semaphores under one lock, so the queue is FIFO.
        let (start, semaphores, queue_timeout, reserved, mean, place) = {
            let mut state = self.state.lock().expect("limiter lock");
            let (start, reserved) =
                state
                    .schedules
                    .plan(ctx, || tokens::estimate(request, ctx), arrived);
            let semaphores = state.slots.for_call(ctx);
            let (max_queue, queue_timeout) =
                (state.limits.max_queue_size, state.limits.queue_timeout);
            let wait = start - arrived;
            let must_wait = !wait.is_zero() || concurrency::any_full(&semaphores);
            if must_wait && self.queue.len() >= max_queue {
                let after = if wait.is_zero() {
                    state.durations.mean.unwrap_or(queue_timeout)
                } else {
                    wait
                };
                drop(state);
                return Err(self.refuse(
                    provider,
                    format!(
                        "the queue is full ({max_queue} calls waiting, limits.max_queue_size); retry after {} ms",
                        after.as_millis()
                    ),
                    after,
                    Refusal::Full,
                ));
            }
            if wait > queue_timeout {
                drop(state);
                return Err(self.refuse(
                    provider,
                    format!(
                        "the rate limit's next free slot is {} ms away, past limits.queue_timeout ({} ms)",
                        wait.as_millis(),
                        queue_timeout.as_millis()
                    ),
                    wait,
                    Refusal::Timeout,
                ));
            }
            // Committed: the slots are this call's. Counted under the lock, so two calls
            // cannot both take the last place.
            state.schedules.reserve(&reserved, arrived);
            let place = self.queue.join(provider);
            (
                start,
                semaphores,
                queue_timeout,
                reserved,
                state.durations.mean,
                place,
            )
        };
        // Only when there is something to wait for: tokio rounds any sleep up to its 1 ms tick.
        if start > Instant::now() {
            tokio::time::sleep_until(start.into()).await;
        }
        let Some(permits) = concurrency::acquire(semaphores, arrived + queue_timeout).await else {
            drop(place);
            return Err(self.refuse(
                provider,
                format!(
                    "no concurrency slot freed within limits.queue_timeout ({} ms)",
                    queue_timeout.as_millis()
                ),
                mean.unwrap_or(queue_timeout),
                Refusal::Timeout,
            ));
        };
        drop(place);
        crate::metrics::waited(provider, arrived.elapsed());
        {
            let mut s = self.state.lock().expect("limiter lock");
            s.stats.in_flight += 1;
            crate::metrics::in_flight(provider, s.stats.in_flight);
        }
        Ok(Admitted {
            provider: provider.to_owned(),
            _permits: permits,
            state: self.state.clone(),
            started: Instant::now(),
            reserved,
        })
    }
}

impl<P: Provider> Limiter<P> {
    /// `inner` behind `limits` (check them first with [`Limits::validate`]).
    pub fn new(inner: P, limits: Limits) -> Self {
        Self {
            inner,
            admission: Admission {
                state: Arc::new(Mutex::new(State {
                    schedules: Schedules::new(limits.rules()),
                    slots: Slots::new(limits.caps()),
                    limits,
                    durations: Durations::default(),
                    stats: LimitStats::default(),
                })),
                queue: Queue::default(),
            },
        }
    }

    /// Changes the limits while calls run: rates apply from the next reservation; new caps
    /// apply to keys seen from now on.
    pub fn set_limits(&self, limits: Limits) -> Result<(), crate::ConfigError> {
        limits.validate()?;
        let mut state = self.admission.state.lock().expect("limiter lock");
        state.schedules.set_rules(limits.rules());
        state.slots.set_caps(limits.caps());
        state.limits = limits;
        Ok(())
    }

    /// What admission has seen.
    pub fn stats(&self) -> LimitStats {
        let mut stats = self.admission.state.lock().expect("limiter lock").stats;
        stats.queued = self.admission.queue.len();
        stats
    }
}

impl<P: Provider> Provider for Limiter<P> {
    concord::wrapped_identity!(inner);

    fn generate<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<Response>> {
        hook::generate(&self.admission, &self.inner, request, ctx)
    }

    /// The permits travel with the stream and are returned when it ends or is dropped.
    fn stream<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<EventStream>> {
        hook::stream(&self.admission, &self.inner, request, ctx)
    }
}

#[cfg(test)]
mod tests;
