//! A circuit breaker per provider (optionally per model): closed → open when the failure ratio
//! over a sliding window reaches the threshold with enough calls; open → half-open after a
//! cooldown; half-open lets a few probe calls through, closes when they succeed, and reopens
//! with a longer cooldown (capped) when one fails. An open breaker fails calls at once with
//! `unavailable`, retryable, `retry_after` = the time until it half-opens. State changes go to a
//! broadcast channel and to `tracing`; [`Breaker::health`] is a snapshot per key.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use concord::{Error, ErrorKind, EventStream, Provider, Request, Response, RuntimeContext};
use futures_util::future::BoxFuture;
use tokio::sync::broadcast;

use crate::hook::{self, Hook, Outcome};
use crate::key::{Key, KeyBy};

/// When a breaker opens and how it comes back.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerConfig {
    /// The share of failed calls in the window that opens it (0 < ratio ≤ 1).
    pub failure_ratio: f64,
    /// The fewest calls in the window before the ratio counts.
    pub min_calls: u32,
    /// How far back the window reaches.
    pub window: Duration,
    /// How long it stays open the first time.
    pub cooldown: Duration,
    /// The longest cooldown, however often probes fail (each failure doubles it).
    pub max_cooldown: Duration,
    /// Probe calls let through while half-open; all must succeed to close.
    pub probes: u32,
    /// One breaker per model instead of per provider.
    pub per_model: bool,
    /// Whether `rate_limited` counts as a failure (off: a vendor asking to slow down is not down).
    pub count_rate_limited: bool,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_ratio: 0.5,
            min_calls: 5,
            window: Duration::from_secs(30),
            cooldown: Duration::from_secs(10),
            max_cooldown: Duration::from_secs(300),
            probes: 1,
            per_model: false,
            count_rate_limited: false,
        }
    }
}

impl BreakerConfig {
    /// Refuses values that cannot work, naming the setting.
    pub fn validate(&self) -> Result<(), crate::ConfigError> {
        let bad = |setting: &'static str, why: &str| {
            Err(crate::ConfigError::new(setting, why.to_owned()))
        };
        if !(self.failure_ratio > 0.0 && self.failure_ratio <= 1.0) {
            return bad("breaker.failure_ratio", "must be above 0 and at most 1");
        }
        if self.min_calls == 0 {
            return bad("breaker.min_calls", "must be at least 1");
        }
        if self.window.is_zero() || self.cooldown.is_zero() {
            return bad("breaker.window", "window and cooldown must be above zero");
        }
        if self.max_cooldown < self.cooldown {
            return bad("breaker.max_cooldown", "must be at least breaker.cooldown");
        }
        if self.probes == 0 {
            return bad("breaker.probes", "must be at least 1");
        }
        Ok(())
    }

    /// Whether a failure of `kind` counts against the vendor. The caller's own mistakes
    /// (invalid_request, authentication, context_length_exceeded, …) say nothing about its health.
    pub fn counts(&self, kind: ErrorKind) -> bool {
        match kind {
            ErrorKind::ServerError
            | ErrorKind::Timeout
            | ErrorKind::Overloaded
            | ErrorKind::Transport
            | ErrorKind::StreamInterrupted
            | ErrorKind::MalformedResponse => true,
            ErrorKind::RateLimited => self.count_rate_limited,
            _ => false,
        }
    }
}

/// A breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls flow.
    Closed,
    /// Calls fail at once.
    Open,
    /// A few probe calls flow.
    HalfOpen,
}

/// A state change.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerEvent {
    /// The key (`openai`, `openai/gpt-4o` per model).
    pub key: String,
    /// The state before.
    pub from: BreakerState,
    /// The state after.
    pub to: BreakerState,
    /// Why, in words.
    pub reason: String,
}

/// One key's health.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    /// The key.
    pub key: String,
    /// Its state.
    pub state: BreakerState,
    /// Calls in the window.
    pub calls: u32,
    /// Of which failed (counting ones).
    pub failures: u32,
    /// The kind of the last counting failure.
    pub last_error: Option<ErrorKind>,
    /// When it entered its state.
    pub since: SystemTime,
}

/// Outcomes over the last `window`, counted in ten slices of it: constant memory and constant
/// time per call however many calls a second go through (a list of every outcome grew to
/// hundreds of thousands of entries at high rates, and counting it dominated the call).
#[derive(Debug, Default)]
struct Window {
    /// (slice start, calls, failures), oldest first.
    slices: VecDeque<(Instant, u32, u32)>,
}

impl Window {
    const SLICES: u32 = 10;

    fn push(&mut self, now: Instant, window: Duration, failed: bool) {
        let width = window / Self::SLICES;
        match self.slices.back_mut() {
            Some((start, calls, failures)) if now.duration_since(*start) < width => {
                *calls += 1;
                *failures += u32::from(failed);
            }
            _ => self.slices.push_back((now, 1, u32::from(failed))),
        }
    }

    fn prune(&mut self, now: Instant, window: Duration) {
        while self
            .slices
            .front()
            .is_some_and(|(start, _, _)| now.duration_since(*start) > window)
        {
            self.slices.pop_front();
        }
    }

    /// (calls, failures).
    fn counts(&self) -> (u32, u32) {
        self.slices
            .iter()
            .fold((0, 0), |(c, f), (_, calls, failures)| {
                (c + calls, f + failures)
            })
    }

    fn clear(&mut self) {
        self.slices.clear();
    }
}

#[derive(Debug)]
struct Circuit {
    state: BreakerState,
    /// Outcomes in the window.
    window: Window,
    open_until: Instant,
    cooldown: Duration,
    probes_out: u32,
    probes_ok: u32,
    last_error: Option<ErrorKind>,
    since: SystemTime,
}

impl Circuit {
    fn new(config: &BreakerConfig, now: Instant) -> Self {
        Self {
            state: BreakerState::Closed,
            window: Window::default(),
            open_until: now,
            cooldown: config.cooldown,
            probes_out: 0,
            probes_ok: 0,
            last_error: None,
            since: SystemTime::now(),
        }
    }

    fn prune(&mut self, now: Instant, window: Duration) {
        self.window.prune(now, window);
    }

    fn counts(&self) -> (u32, u32) {
        self.window.counts()
    }
}

struct Shared {
    config: BreakerConfig,
    circuits: Mutex<HashMap<Key, Circuit>>,
    events: broadcast::Sender<BreakerEvent>,
}

impl Shared {
    fn change(&self, key: &Key, c: &mut Circuit, to: BreakerState, reason: String) {
        let event = BreakerEvent {
            key: key.to_string(),
            from: c.state,
            to,
            reason,
        };
        c.state = to;
        c.since = SystemTime::now();
        crate::metrics::breaker(&event.key, to);
        tracing::warn!(key = %event.key, from = ?event.from, to = ?event.to, reason = %event.reason, "circuit breaker");
        // Nobody listening is fine.
        let _ = self.events.send(event);
    }

    /// May a call go? `Err` is how long until the breaker half-opens.
    fn enter(&self, key: &Key) -> Result<bool, Duration> {
        let now = Instant::now();
        let mut circuits = self.circuits.lock().expect("breaker lock");
        let c = circuits
            .entry(key.clone())
            .or_insert_with(|| Circuit::new(&self.config, now));
        match c.state {
            BreakerState::Closed => Ok(false),
            BreakerState::Open if now < c.open_until => Err(c.open_until - now),
            BreakerState::Open => {
                c.probes_out = 0;
                c.probes_ok = 0;
                let reason = format!("cooldown of {} ms over", c.cooldown.as_millis());
                self.change(key, c, BreakerState::HalfOpen, reason);
                c.probes_out = 1;
                Ok(true)
            }
            BreakerState::HalfOpen if c.probes_out + c.probes_ok < self.config.probes => {
                c.probes_out += 1;
                Ok(true)
            }
            // Probes are out: the rest wait for their verdict.
            BreakerState::HalfOpen => Err(Duration::from_millis(100).min(c.cooldown)),
        }
    }

    /// A call's outcome: `None` when the caller dropped it (no verdict, the probe slot frees).
    fn record(&self, key: &Key, probe: bool, failure: Option<Option<ErrorKind>>) {
        let now = Instant::now();
        let mut circuits = self.circuits.lock().expect("breaker lock");
        let Some(c) = circuits.get_mut(key) else {
            return;
        };
        let counted = match failure {
            None => {
                if probe {
                    c.probes_out = c.probes_out.saturating_sub(1);
                }
                return;
            }
            Some(None) => Some(false),
            Some(Some(kind)) if self.config.counts(kind) => {
                c.last_error = Some(kind);
                Some(true)
            }
            // Not the vendor's fault: neither a failure nor a sign of health.
            Some(Some(_)) => None,
        };
        if probe && c.state == BreakerState::HalfOpen {
            c.probes_out = c.probes_out.saturating_sub(1);
            match counted {
                Some(true) => {
                    c.cooldown = (c.cooldown * 2).min(self.config.max_cooldown);
                    c.open_until = now + c.cooldown;
                    let reason = format!(
                        "a probe failed ({}); open for {} ms",
                        c.last_error.map_or("?", |k| k.as_str()),
                        c.cooldown.as_millis()
                    );
                    self.change(key, c, BreakerState::Open, reason);
                }
                Some(false) => {
                    c.probes_ok += 1;
                    if c.probes_ok >= self.config.probes {
                        c.window.clear();
                        c.cooldown = self.config.cooldown;
                        self.change(
                            key,
                            c,
                            BreakerState::Closed,
                            format!("{} probe(s) succeeded", c.probes_ok),
                        );
                    }
                }
                None => {}
            }
            return;
        }
        let Some(failed) = counted else { return };
        if c.state != BreakerState::Closed {
            return;
        }
        c.window.push(now, self.config.window, failed);
        c.prune(now, self.config.window);
        let (calls, failures) = c.counts();
        if failed
            && calls >= self.config.min_calls
            && f64::from(failures) >= self.config.failure_ratio * f64::from(calls)
        {
            c.open_until = now + c.cooldown;
            let reason = format!(
                "{failures} of the last {calls} calls failed (last: {}); open for {} ms",
                c.last_error.map_or("?", |k| k.as_str()),
                c.cooldown.as_millis()
            );
            self.change(key, c, BreakerState::Open, reason);
        }
    }
}

/// The breaker layer around a provider.
pub struct Breaker<P> {
    inner: P,
    circuits: Circuits,
}

/// The breaker's hook: its circuits, shared with the calls in flight.
struct Circuits(Arc<Shared>);

/// What a call holds: where its outcome goes, and whether it is a half-open probe.
struct Ticket {
    shared: Arc<Shared>,
    key: Key,
    probe: bool,
}

impl Hook for Circuits {
    type Ticket = Ticket;

    async fn enter(
        &self,
        provider: &str,
        _: &Request,
        ctx: &RuntimeContext,
    ) -> concord::Result<Ticket> {
        let by = KeyBy {
            model: self.0.config.per_model,
            tenant: false,
        };
        let key = Key::of(provider, ctx, by);
        let probe = self
            .0
            .enter(&key)
            .map_err(|after| refuse(provider, &key, after))?;
        Ok(Ticket {
            shared: self.0.clone(),
            key,
            probe,
        })
    }

    /// A dropped call gives no verdict: it only frees its probe slot.
    fn finish(t: Ticket, outcome: Outcome<'_>) {
        let verdict = match outcome {
            Outcome::Answered(_) => Some(None),
            Outcome::Failed(kind) => Some(Some(kind)),
            Outcome::Dropped => None,
        };
        t.shared.record(&t.key, t.probe, verdict);
    }
}

fn refuse(provider: &str, key: &Key, after: Duration) -> Error {
    crate::metrics::rejected(provider, "breaker_open");
    Error::new(
        ErrorKind::Unavailable,
        provider,
        format!(
            "the circuit breaker for {key} is open after repeated failures; it lets a probe through in {} ms",
            after.as_millis()
        ),
    )
    .with_retryable(true)
    .with_retry_after(Some(after.max(Duration::from_millis(1))))
}

impl<P: Provider> Breaker<P> {
    /// `inner` behind a breaker (check `config` first with [`BreakerConfig::validate`]).
    pub fn new(inner: P, config: BreakerConfig) -> Self {
        let (events, _) = broadcast::channel(256);
        Self {
            inner,
            circuits: Circuits(Arc::new(Shared {
                config,
                circuits: Mutex::new(HashMap::new()),
                events,
            })),
        }
    }

    /// State changes from now on.
    pub fn events(&self) -> broadcast::Receiver<BreakerEvent> {
        self.circuits.0.events.subscribe()
    }

    /// Every key's health, sorted by key.
    pub fn health(&self) -> Vec<Health> {
        let now = Instant::now();
        let shared = &self.circuits.0;
        let mut circuits = shared.circuits.lock().expect("breaker lock");
        let mut out: Vec<Health> = circuits
            .iter_mut()
            .map(|(key, c)| {
                c.prune(now, shared.config.window);
                let (calls, failures) = c.counts();
                Health {
                    key: key.to_string(),
                    state: c.state,
                    calls,
                    failures,
                    last_error: c.last_error,
                    since: c.since,
                }
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }
}

impl<P: Provider> Provider for Breaker<P> {
    concord::wrapped_identity!(inner);

    fn generate<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<Response>> {
        hook::generate(&self.circuits, &self.inner, request, ctx)
    }

    fn stream<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<EventStream>> {
        hook::stream(&self.circuits, &self.inner, request, ctx)
    }
}

#[cfg(test)]
mod tests;
