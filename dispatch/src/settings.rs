//! `[dispatcher]`: the layers' settings as a deployment writes them — in the configuration
//! file, or through a `CONCORD_DISPATCH_*` variable each — read typed into a
//! [`DispatchConfig`]. A provider's own table (`[providers.<name>.dispatcher]`) overrides any
//! of these keys for that provider alone.

use std::time::Duration;

use concord_settings::schemars::{self, JsonSchema};
use concord_settings::{Issues, Section};
use serde::{Deserialize, Serialize};

use crate::{BreakerConfig, DispatchConfig, KeyBy, Rate};

/// `[dispatcher]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DispatcherSection {
    /// Requests per provider (per model with `limit_per_model`), as `500/min`, `10/s` or
    /// `1000/h`; unset: no rate limit.
    #[schemars(extend("x-env" = "CONCORD_DISPATCH_RATE"))]
    pub rate: Option<Rate>,
    /// Tokens per minute per provider (estimated before a call, corrected by its usage);
    /// unset: none.
    #[schemars(extend("x-env" = "CONCORD_DISPATCH_TOKENS_PER_MINUTE"), range(min = 1))]
    pub tokens_per_minute: Option<u32>,
    /// Whether `rate` and `tokens_per_minute` hold per model instead of per provider.
    pub limit_per_model: bool,
    /// Requests per provider and tenant: each tenant's quota, beside the provider's `rate`
    /// (calls without a tenant share one quota).
    #[schemars(extend("x-env" = "CONCORD_DISPATCH_TENANT_RATE"))]
    pub tenant_rate: Option<Rate>,
    /// Tokens per minute per provider and tenant.
    #[schemars(range(min = 1))]
    pub tenant_tokens_per_minute: Option<u32>,
    /// Calls in flight at once per provider, streams included; unset: no cap.
    #[schemars(extend("x-env" = "CONCORD_DISPATCH_MAX_CONCURRENT"), range(min = 1))]
    pub max_concurrent: Option<usize>,
    /// Calls in flight at once per provider and model.
    #[schemars(range(min = 1))]
    pub max_concurrent_per_model: Option<usize>,
    /// Calls in flight at once per provider and tenant.
    #[schemars(range(min = 1))]
    pub max_concurrent_per_tenant: Option<usize>,
    /// Calls that may wait for the limits; one more is refused at once with `rate_limited`
    /// and `retry_after`.
    #[schemars(extend("x-env" = "CONCORD_DISPATCH_MAX_QUEUE"))]
    pub max_queue: usize,
    /// The longest a call waits for the limits, in milliseconds.
    #[schemars(extend("x-env" = "CONCORD_DISPATCH_QUEUE_TIMEOUT_MS"), range(min = 1))]
    pub queue_timeout_ms: u64,
    /// Retries of a retryable failure (backoff with jitter; the vendor's `retry_after`
    /// honoured).
    #[schemars(
        extend("x-env" = "CONCORD_DISPATCH_RETRIES", "x-env-alias" = "CONCORD_MAX_RETRIES"),
        example = 2
    )]
    pub retries: u32,
    /// The longest vendor `retry_after` a retry waits out, in milliseconds; a failure asking
    /// for longer goes to the caller at once with its `retry_after` (a server's callers may
    /// time out sooner than a long wait).
    #[schemars(extend("x-env" = "CONCORD_DISPATCH_RETRY_AFTER_CAP_MS"), range(min = 0))]
    pub retry_after_cap_ms: u64,
    /// Whether a circuit breaker takes a failing provider out of rotation.
    #[schemars(extend("x-env" = "CONCORD_DISPATCH_BREAKER"), example = true)]
    pub breaker: bool,
    /// One breaker per model instead of one per provider.
    pub breaker_per_model: bool,
    /// The share of failed calls in the window that opens the breaker.
    #[schemars(
        extend("x-env" = "CONCORD_DISPATCH_BREAKER_FAILURE_RATIO"),
        range(min = 0.0, max = 1.0)
    )]
    pub breaker_failure_ratio: f64,
    /// Calls in the window before the failure ratio counts.
    #[schemars(extend("x-env" = "CONCORD_DISPATCH_BREAKER_MIN_CALLS"), range(min = 1))]
    pub breaker_min_calls: u32,
    /// How long an open breaker waits before a probe, in milliseconds (doubled per failed
    /// probe, up to 300 s).
    #[schemars(extend("x-env" = "CONCORD_DISPATCH_BREAKER_COOLDOWN_MS"), range(min = 1))]
    pub breaker_cooldown_ms: u64,
    /// Whether a cut stream is resumed by prefill where the provider continues an assistant
    /// turn.
    #[schemars(extend("x-env" = "CONCORD_DISPATCH_STREAM_RECOVERY"))]
    pub stream_recovery: bool,
}

impl Default for DispatcherSection {
    fn default() -> Self {
        let c = DispatchConfig::default();
        let b = BreakerConfig::default();
        Self {
            rate: None,
            tokens_per_minute: None,
            limit_per_model: false,
            tenant_rate: None,
            tenant_tokens_per_minute: None,
            max_concurrent: None,
            max_concurrent_per_model: None,
            max_concurrent_per_tenant: None,
            max_queue: c.limits.max_queue_size,
            queue_timeout_ms: c.limits.queue_timeout.as_millis() as u64,
            retries: c.retry.max_retries,
            retry_after_cap_ms: c.retry.retry_after_cap.as_millis() as u64,
            breaker: true,
            breaker_per_model: false,
            breaker_failure_ratio: b.failure_ratio,
            breaker_min_calls: b.min_calls,
            breaker_cooldown_ms: b.cooldown.as_millis() as u64,
            stream_recovery: c.recovery.enabled,
        }
    }
}

impl DispatcherSection {
    /// The layers' configuration these settings give.
    pub fn config(&self) -> DispatchConfig {
        let mut c = DispatchConfig::default();
        let l = &mut c.limits;
        l.rate = self.rate;
        l.tokens_per_minute = self.tokens_per_minute;
        l.rate_key = KeyBy {
            model: self.limit_per_model,
            tenant: false,
        };
        l.tenant_rate = self.tenant_rate;
        l.tenant_tokens_per_minute = self.tenant_tokens_per_minute;
        l.max_concurrent = self.max_concurrent;
        l.max_concurrent_per_model = self.max_concurrent_per_model;
        l.max_concurrent_per_tenant = self.max_concurrent_per_tenant;
        l.max_queue_size = self.max_queue;
        l.queue_timeout = Duration::from_millis(self.queue_timeout_ms);
        c.retry.max_retries = self.retries;
        c.retry.retry_after_cap = Duration::from_millis(self.retry_after_cap_ms);
        c.breaker = self.breaker.then(|| {
            let mut b = BreakerConfig {
                failure_ratio: self.breaker_failure_ratio,
                min_calls: self.breaker_min_calls,
                cooldown: Duration::from_millis(self.breaker_cooldown_ms),
                per_model: self.breaker_per_model,
                ..BreakerConfig::default()
            };
            b.max_cooldown = b.max_cooldown.max(b.cooldown);
            b
        });
        c.recovery.enabled = self.stream_recovery;
        c
    }
}

impl Section for DispatcherSection {
    const PATH: &'static str = "dispatcher";
    const ABOUT: &'static str = "The dispatcher's layers around every provider: rate limits, \
        concurrency caps, the queue, retries, the circuit breaker, stream recovery. A provider's \
        `[providers.<name>.dispatcher]` table overrides any of these keys for it alone.";

    /// Values that parse but cannot work are named by their key.
    fn validate(&self, issues: &mut Issues) {
        if let Err(e) = self.config().validate() {
            let key = match e.setting {
                "limits.rate" => "rate",
                "limits.tenant_rate" => "tenant_rate",
                "limits.tokens_per_minute" => "tokens_per_minute",
                "limits.tenant_tokens_per_minute" => "tenant_tokens_per_minute",
                "limits.max_concurrent" => "max_concurrent",
                "limits.max_concurrent_per_model" => "max_concurrent_per_model",
                "limits.max_concurrent_per_tenant" => "max_concurrent_per_tenant",
                "limits.queue_timeout" => "queue_timeout_ms",
                "breaker.failure_ratio" => "breaker_failure_ratio",
                "breaker.min_calls" => "breaker_min_calls",
                _ => "breaker_cooldown_ms",
            };
            issues.push(key, e.why, "");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_settings::{Config, SectionInfo, Sources};

    fn load(vars: &[(&str, &str)]) -> Result<Config, concord_settings::Problems> {
        Config::load(
            &Sources::with_vars(None, vars),
            &[SectionInfo::of::<DispatcherSection>()],
        )
    }

    #[test]
    fn variables_set_the_layers_and_bad_ones_are_named() {
        let c = load(&[
            ("CONCORD_DISPATCH_RATE", "500/min"),
            ("CONCORD_DISPATCH_MAX_CONCURRENT", "8"),
            ("CONCORD_DISPATCH_BREAKER", "false"),
            ("CONCORD_DISPATCH_RETRIES", "0"),
        ])
        .unwrap()
        .get::<DispatcherSection>()
        .config();
        assert_eq!(c.limits.rate, Some(Rate::per_minute(500)));
        assert_eq!(c.limits.max_concurrent, Some(8));
        assert_eq!(c.limits.max_queue_size, 64, "the default");
        assert!(c.breaker.is_none());
        assert_eq!(c.retry.max_retries, 0);
        for (name, value, key) in [
            ("CONCORD_DISPATCH_RATE", "fast", "dispatcher.rate"),
            (
                "CONCORD_DISPATCH_MAX_CONCURRENT",
                "0",
                "dispatcher.max_concurrent",
            ),
            (
                "CONCORD_DISPATCH_BREAKER_FAILURE_RATIO",
                "2",
                "dispatcher.breaker_failure_ratio",
            ),
            ("CONCORD_DISPATCH_BREAKER", "maybe", "dispatcher.breaker"),
        ] {
            let p = load(&[(name, value)]).unwrap_err().0;
            assert_eq!(p.len(), 1, "{p:?}");
            assert_eq!(p[0].setting, key);
            assert_eq!(p[0].source, format!("environment variable {name}"));
        }
    }

    #[test]
    fn the_old_retry_variable_still_works_and_says_so() {
        let c = load(&[("CONCORD_MAX_RETRIES", "4")]).unwrap();
        assert_eq!(c.get::<DispatcherSection>().retries, 4);
        assert!(
            c.notices()[0].contains("set CONCORD_DISPATCH_RETRIES instead"),
            "{:?}",
            c.notices()
        );
        let c = load(&[
            ("CONCORD_MAX_RETRIES", "4"),
            ("CONCORD_DISPATCH_RETRIES", "1"),
        ])
        .unwrap();
        assert_eq!(c.get::<DispatcherSection>().retries, 1, "the new name wins");
        assert!(c.notices().is_empty());
    }

    #[test]
    fn the_defaults_are_the_layers_defaults() {
        assert_eq!(
            DispatcherSection::default().config(),
            DispatchConfig::default()
        );
    }
}
