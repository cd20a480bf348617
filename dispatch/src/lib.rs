//! concord-dispatch: small layers around any [`concord::Provider`] for services that put many
//! calls through a few vendors (`docs/dispatcher.md`):
//!
//! - [`Limiter`] — rate limits (requests and tokens per minute, keyed by provider, model,
//!   tenant), a cap on calls in flight, and a bounded FIFO queue that refuses with
//!   `rate_limited` and an exact `retry_after` instead of growing;
//! - [`Breaker`] — a circuit breaker per provider (or model) with health snapshots and events;
//! - [`Retry`] — retries of retryable failures with backoff, honouring `retry_after`;
//! - [`Fallback`] — targets (provider + context) tried in turn when one is down;
//! - [`Recovery`] — stream checkpoints, and cut streams resumed without a duplicated or lost
//!   character where the provider continues an assistant turn.
//!
//! Each is a `Provider` wrapping a `Provider`, usable alone; [`Dispatcher`] stacks them in the
//! right order from one [`DispatchConfig`]. Nothing here knows a vendor: only `Provider` and
//! `ErrorKind`.
//!
//! ```no_run
//! # async fn demo() -> concord::Result<()> {
//! use concord::{Provider, Request, RuntimeContext};
//! use concord_dispatch::{DispatchConfig, Dispatcher, Rate};
//! let mut config = DispatchConfig::default();
//! config.limits.rate = Some(Rate::per_second(5));
//! config.limits.max_concurrent = Some(8);
//! let openai = Dispatcher::new(concord::builtin("openai")?, config).expect("valid settings");
//! let ctx = RuntimeContext::new()
//!     .model("gpt-4o-mini")
//!     .credential("sk-…")
//!     .base_url("https://api.openai.com/v1")
//!     .client(concord::reqwest::Client::new());
//! let answer = openai.generate(&Request::user("Hello"), &ctx).await?;
//! println!("{}", answer.text);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod breaker;
pub mod fallback;
mod guard;
pub mod hook;
pub mod key;
pub mod limit;
mod metrics;
pub mod recover;
pub mod retry;
pub mod settings;
#[cfg(test)]
mod testing;

use std::sync::Arc;

use concord::{EventStream, Provider, Request, Response, RuntimeContext};
use futures_util::future::BoxFuture;

pub use breaker::{Breaker, BreakerConfig, BreakerEvent, BreakerState, Health};
pub use fallback::{Fallback, Target};
pub use key::{Key, KeyBy};
pub use limit::{LimitStats, Limiter, Limits, Rate};
pub use recover::{resume_from_checkpoint, Checkpoint, CheckpointSink, Recovery, RecoveryConfig};
pub use retry::{Retry, RetryPolicy};
pub use settings::DispatcherSection;

/// The README's dispatcher example, compiled (its other Rust blocks are marked `ignore`: they
/// are fragments).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// A setting that cannot work, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting {setting}: {why}")]
pub struct ConfigError {
    /// The setting (`limits.rate`).
    pub setting: &'static str,
    /// What is wrong with it.
    pub why: String,
}

impl ConfigError {
    pub(crate) fn new(setting: &'static str, why: String) -> Self {
        Self { setting, why }
    }
}

/// Every layer's settings. The default retries twice, admits everything with a queue of 64,
/// and has a breaker with the defaults of [`BreakerConfig`].
#[derive(Debug, Clone, PartialEq)]
pub struct DispatchConfig {
    /// Retries (outermost: every attempt goes through the breaker and the limits).
    pub retry: RetryPolicy,
    /// The circuit breaker (`None`: off).
    pub breaker: Option<BreakerConfig>,
    /// Admission.
    pub limits: Limits,
    /// Stream checkpoints and recovery (outermost: a continuation goes through every layer).
    pub recovery: RecoveryConfig,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            breaker: Some(BreakerConfig::default()),
            limits: Limits::default(),
            recovery: RecoveryConfig::default(),
        }
    }
}

impl DispatchConfig {
    /// Refuses values that cannot work, naming the setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.limits.validate()?;
        self.recovery.validate()?;
        if let Some(b) = &self.breaker {
            b.validate()?;
        }
        Ok(())
    }
}

type Inner = Arc<dyn Provider>;

type Stack = Retry<Breaker<Arc<Limiter<Inner>>>>;

/// The layers stacked: recovery → retry → breaker → limits → the provider. A retried attempt
/// or a stream's continuation is admitted and counted like any call; an open breaker refuses
/// before anything queues.
pub struct Dispatcher {
    recovery: Recovery,
    stack: Arc<Stack>,
    limiter: Arc<Limiter<Inner>>,
}

impl Dispatcher {
    /// `provider` behind the layers of `config`; `Err` names a setting that cannot work.
    pub fn new(
        provider: impl Provider + 'static,
        config: DispatchConfig,
    ) -> Result<Self, ConfigError> {
        Self::from_arc(Arc::new(provider), config)
    }

    /// As [`Dispatcher::new`], for a provider already shared.
    pub fn from_arc(
        provider: Arc<dyn Provider>,
        config: DispatchConfig,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let limiter = Arc::new(Limiter::new(provider, config.limits));
        // A breaker that never opens stands in for "off", keeping one stack type.
        let breaker_config = config.breaker.unwrap_or(BreakerConfig {
            failure_ratio: 1.0,
            min_calls: u32::MAX,
            ..BreakerConfig::default()
        });
        let breaker = Breaker::new(limiter.clone(), breaker_config);
        let stack = Arc::new(Retry::new(breaker, config.retry));
        Ok(Self {
            recovery: Recovery::new(stack.clone(), config.recovery),
            stack,
            limiter,
        })
    }

    /// Every breaker key's health.
    pub fn health(&self) -> Vec<Health> {
        self.stack.inner().health()
    }

    /// Breaker state changes from now on.
    pub fn events(&self) -> tokio::sync::broadcast::Receiver<BreakerEvent> {
        self.stack.inner().events()
    }

    /// What admission has seen.
    pub fn limit_stats(&self) -> LimitStats {
        self.limiter.stats()
    }

    /// Changes the limits while calls run.
    pub fn set_limits(&self, limits: Limits) -> Result<(), ConfigError> {
        self.limiter.set_limits(limits)
    }
}

/// The dispatcher's own hook: a call's duration, outcome and usage, to the metrics.
struct Measure;

/// What a call's metrics need at its end.
struct Measuring {
    provider: String,
    model: String,
    started: std::time::Instant,
}

impl hook::Hook for Measure {
    type Ticket = Measuring;

    async fn enter(
        &self,
        provider: &str,
        _: &Request,
        ctx: &RuntimeContext,
    ) -> concord::Result<Measuring> {
        Ok(Measuring {
            provider: provider.to_owned(),
            model: ctx.model.clone().unwrap_or_default(),
            started: std::time::Instant::now(),
        })
    }

    fn finish(m: Measuring, outcome: hook::Outcome<'_>) {
        let outcome = match outcome {
            hook::Outcome::Answered(usage) => Ok(usage),
            hook::Outcome::Failed(kind) => Err(kind),
            hook::Outcome::Dropped => Err(concord::ErrorKind::Cancelled),
        };
        metrics::call(m.provider, m.model, "chat", m.started.elapsed(), outcome);
    }
}

impl Provider for Dispatcher {
    concord::wrapped_identity!(recovery);

    fn generate<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<Response>> {
        hook::generate(&Measure, &self.recovery, request, ctx)
    }

    fn stream<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<EventStream>> {
        hook::stream(&Measure, &self.recovery, request, ctx)
    }
}
