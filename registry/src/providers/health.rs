//! Active health checks: a probe per provider at an interval, bounded by a timeout; a provider
//! whose probe fails is `error` (with what the probe saw) until one succeeds. The passive half
//! is the dispatcher's breaker, whose changes arrive as `breaker_*` events.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use concord::{ErrorKind, Parameters, Provider, Request, RuntimeContext};
use futures_util::future::BoxFuture;

use super::{Entry, Event, Registry, Status};

/// One health check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// When it ran.
    pub at: SystemTime,
    /// Whether the provider answered sensibly.
    pub healthy: bool,
    /// What it saw.
    pub detail: String,
    /// How long it took.
    pub latency: Duration,
}

/// How a provider is checked: given the provider and its context template, `Ok` when it
/// answers. Errors that show the vendor answered (a rate limit, a refused request) count as
/// healthy.
pub type Probe = Arc<
    dyn Fn(Arc<dyn Provider>, RuntimeContext) -> BoxFuture<'static, concord::Result<()>>
        + Send
        + Sync,
>;

/// The default probe: a one-token call (`ping`, at most one output token). No vendor offers a
/// free way to check a key and a model at once for every API; this costs a handful of tokens
/// per check (with the default 30 s interval, under 20 k tokens a day per provider).
pub fn one_token() -> Probe {
    Arc::new(|provider, ctx| {
        Box::pin(async move {
            let mut request = Request::user("ping");
            request.params = Parameters {
                max_output_tokens: Some(1),
                ..Parameters::default()
            };
            provider.generate(&request, &ctx).await.map(|_| ())
        })
    })
}

/// Failures that still show a working vendor.
fn answered(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::RateLimited
            | ErrorKind::InvalidRequest
            | ErrorKind::ContentFilter
            | ErrorKind::ContextLengthExceeded
    )
}

impl Registry {
    /// Checks every provider once, now (all at once, each within `registry.health_timeout`),
    /// and returns the snapshot after.
    pub async fn check_health(&self) -> Vec<super::Info> {
        let entries: Vec<Arc<Entry>> = self.inner.entries.load().values().cloned().collect();
        futures_util::future::join_all(entries.iter().map(|e| self.check(e.clone()))).await;
        self.snapshot()
    }

    async fn check(&self, entry: Arc<Entry>) {
        let timeout = self.inner.options.settings.health_timeout;
        let probe = (self.inner.options.probe)(entry.provider.clone(), entry.context.clone());
        let started = std::time::Instant::now();
        let (healthy, detail) = match tokio::time::timeout(timeout, probe).await {
            Err(_) => (false, format!("no answer within {timeout:?}")),
            Ok(Ok(())) => (true, "answered".to_owned()),
            Ok(Err(e)) if answered(e.kind) => (true, format!("answered ({})", e.kind)),
            Ok(Err(e)) => (false, format!("{}: {}", e.kind, e.message)),
        };
        let check = HealthCheck {
            at: SystemTime::now(),
            healthy,
            detail: detail.clone(),
            latency: started.elapsed(),
        };
        let changed = {
            let mut state = entry.state.lock().expect("entry state");
            if state.status == Status::Disposed {
                return;
            }
            let before = state.last_health.as_ref().map(|h| h.healthy);
            state.last_health = Some(check);
            state.status = if healthy {
                Status::Ready
            } else {
                Status::Error(detail.clone())
            };
            before != Some(healthy)
        };
        if changed {
            self.emit(Event::HealthChanged {
                name: entry.name.clone(),
                healthy,
                detail,
            });
        }
    }

    /// Starts checking every provider at `registry.health_interval` (nothing when it is off);
    /// a shutdown stops it.
    pub fn start_health_monitor(&self) {
        let Some(every) = self.inner.options.settings.health_interval else {
            return;
        };
        let this = Arc::downgrade(&self.inner);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = this.upgrade() else { return };
                Registry { inner }.check_health().await;
            }
        });
        self.keep(task);
    }
}
