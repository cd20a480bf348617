//! The dispatcher's settings from the environment: every value of [`DispatchConfig`] that a
//! deployment tunes, each a variable of the registry (listed in `docs/configuration.md`), each
//! refused at startup with its name when it cannot be used.

use std::time::Duration;

use concord::env::EnvVar;

use crate::{BreakerConfig, ConfigError, DispatchConfig, Rate};

const GROUP: &str = "Dispatcher";

const fn var(
    name: &'static str,
    ty: &'static str,
    default: Option<&'static str>,
    description: &'static str,
) -> EnvVar {
    EnvVar::new(name, ty, default, GROUP, description)
}

/// Requests per interval per provider: `N/s`, `N/min`, `N/h`.
pub const RATE: EnvVar = var(
    "CONCORD_DISPATCH_RATE",
    "string",
    None,
    "Requests per provider, as `500/min`, `10/s` or `1000/h`; unset: no rate limit.",
);
/// Tokens per minute per provider.
pub const TOKENS_PER_MINUTE: EnvVar = var("CONCORD_DISPATCH_TOKENS_PER_MINUTE", "integer", None, "Tokens per minute per provider (estimated before a call, corrected by its usage); unset: none.");
/// Calls in flight per provider.
pub const MAX_CONCURRENT: EnvVar = var(
    "CONCORD_DISPATCH_MAX_CONCURRENT",
    "integer",
    None,
    "Calls in flight at once per provider, streams included; unset: no cap.",
);
/// Calls that may wait.
pub const MAX_QUEUE: EnvVar = var("CONCORD_DISPATCH_MAX_QUEUE", "integer", Some("64"), "Calls that may wait for the limits; one more is refused at once with `rate_limited` and `retry_after`.");
/// The longest wait.
pub const QUEUE_TIMEOUT_MS: EnvVar = var(
    "CONCORD_DISPATCH_QUEUE_TIMEOUT_MS",
    "integer",
    Some("30000"),
    "The longest a call waits for the limits, in milliseconds.",
);
/// Retries.
pub const RETRIES: EnvVar = var(
    "CONCORD_DISPATCH_RETRIES",
    "integer",
    Some("2"),
    "Retries of a retryable failure (backoff with jitter; the vendor's `retry_after` honoured).",
);
/// The breaker on or off.
pub const BREAKER: EnvVar = var(
    "CONCORD_DISPATCH_BREAKER",
    "bool",
    Some("true"),
    "Whether a circuit breaker takes a failing provider out of rotation.",
);
/// The failure ratio that opens it.
pub const BREAKER_FAILURE_RATIO: EnvVar = var(
    "CONCORD_DISPATCH_BREAKER_FAILURE_RATIO",
    "number",
    Some("0.5"),
    "The share of failed calls in the window that opens the breaker.",
);
/// The fewest calls before the ratio counts.
pub const BREAKER_MIN_CALLS: EnvVar = var(
    "CONCORD_DISPATCH_BREAKER_MIN_CALLS",
    "integer",
    Some("5"),
    "Calls in the window before the failure ratio counts.",
);
/// The first cooldown.
pub const BREAKER_COOLDOWN_MS: EnvVar = var("CONCORD_DISPATCH_BREAKER_COOLDOWN_MS", "integer", Some("10000"), "How long an open breaker waits before a probe, in milliseconds (doubled per failed probe, up to 300 s).");
/// Stream recovery on or off.
pub const STREAM_RECOVERY: EnvVar = var(
    "CONCORD_DISPATCH_STREAM_RECOVERY",
    "bool",
    Some("true"),
    "Whether a cut stream is resumed by prefill where the provider continues an assistant turn.",
);

/// Every variable, in documentation order.
pub static VARS: &[EnvVar] = &[
    RATE,
    TOKENS_PER_MINUTE,
    MAX_CONCURRENT,
    MAX_QUEUE,
    QUEUE_TIMEOUT_MS,
    RETRIES,
    BREAKER,
    BREAKER_FAILURE_RATIO,
    BREAKER_MIN_CALLS,
    BREAKER_COOLDOWN_MS,
    STREAM_RECOVERY,
];

fn parse<T: std::str::FromStr>(var: &EnvVar, value: &str, what: &str) -> Result<T, ConfigError> {
    value
        .trim()
        .parse()
        .map_err(|_| ConfigError::new(var.name, format!("{value:?} is not {what}")))
}

/// Parses a rate as the variable and the config file write it: `500/min`, `10/s`, `1000/h`.
pub fn rate(value: &str) -> Result<Rate, ConfigError> {
    let bad = || {
        ConfigError::new(
            RATE.name,
            format!("{value:?} is not a rate like `500/min`, `10/s`, `1000/h`"),
        )
    };
    let (n, per) = value.trim().split_once('/').ok_or_else(bad)?;
    let requests: u32 = n.trim().parse().map_err(|_| bad())?;
    let per = match per.trim() {
        "s" | "sec" | "second" => Duration::from_secs(1),
        "m" | "min" | "minute" => Duration::from_secs(60),
        "h" | "hour" => Duration::from_secs(3600),
        _ => return Err(bad()),
    };
    Ok(Rate { requests, per })
}

impl DispatchConfig {
    /// The defaults, with what the environment sets; `Err` names the variable that cannot be used.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|v| v.get_or_default())
    }

    /// As [`DispatchConfig::from_env`], reading variables through `lookup` (tests,
    /// `concord::env::lookup_in`).
    pub fn from_lookup(lookup: impl Fn(&EnvVar) -> Option<String>) -> Result<Self, ConfigError> {
        let mut c = DispatchConfig::default();
        let get = |v: &EnvVar| lookup(v).filter(|s| !s.trim().is_empty());
        if let Some(v) = get(&RATE) {
            c.limits.rate = Some(rate(&v)?);
        }
        if let Some(v) = get(&TOKENS_PER_MINUTE) {
            c.limits.tokens_per_minute = Some(parse(&TOKENS_PER_MINUTE, &v, "a whole number")?);
        }
        if let Some(v) = get(&MAX_CONCURRENT) {
            c.limits.max_concurrent = Some(parse(&MAX_CONCURRENT, &v, "a whole number")?);
        }
        if let Some(v) = get(&MAX_QUEUE) {
            c.limits.max_queue_size = parse(&MAX_QUEUE, &v, "a whole number")?;
        }
        if let Some(v) = get(&QUEUE_TIMEOUT_MS) {
            c.limits.queue_timeout =
                Duration::from_millis(parse(&QUEUE_TIMEOUT_MS, &v, "milliseconds")?);
        }
        if let Some(v) = get(&RETRIES) {
            c.retry.max_retries = parse(&RETRIES, &v, "a whole number")?;
        }
        let on = parse::<bool>(
            &BREAKER,
            &get(&BREAKER).unwrap_or_else(|| "true".into()),
            "true or false",
        )?;
        c.breaker = if on {
            let mut b = BreakerConfig::default();
            if let Some(v) = get(&BREAKER_FAILURE_RATIO) {
                b.failure_ratio = parse(&BREAKER_FAILURE_RATIO, &v, "a number")?;
            }
            if let Some(v) = get(&BREAKER_MIN_CALLS) {
                b.min_calls = parse(&BREAKER_MIN_CALLS, &v, "a whole number")?;
            }
            if let Some(v) = get(&BREAKER_COOLDOWN_MS) {
                b.cooldown =
                    Duration::from_millis(parse(&BREAKER_COOLDOWN_MS, &v, "milliseconds")?);
                b.max_cooldown = b.max_cooldown.max(b.cooldown);
            }
            Some(b)
        } else {
            None
        };
        if let Some(v) = get(&STREAM_RECOVERY) {
            c.recovery.enabled = parse(&STREAM_RECOVERY, &v, "true or false")?;
        }
        // Values that parse but cannot work are named by the variable that set them.
        c.validate().map_err(|e| {
            let var = match e.setting {
                "limits.rate" => RATE.name,
                "limits.tokens_per_minute" => TOKENS_PER_MINUTE.name,
                "limits.max_concurrent" => MAX_CONCURRENT.name,
                "limits.queue_timeout" => QUEUE_TIMEOUT_MS.name,
                "breaker.failure_ratio" => BREAKER_FAILURE_RATIO.name,
                "breaker.min_calls" => BREAKER_MIN_CALLS.name,
                "breaker.window" | "breaker.max_cooldown" => BREAKER_COOLDOWN_MS.name,
                other => other,
            };
            ConfigError::new(var, e.why)
        })?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_set_the_layers_and_bad_ones_are_named() {
        let pairs = [
            ("CONCORD_DISPATCH_RATE", "500/min"),
            ("CONCORD_DISPATCH_MAX_CONCURRENT", "8"),
            ("CONCORD_DISPATCH_BREAKER", "false"),
            ("CONCORD_DISPATCH_RETRIES", "0"),
        ];
        let c = DispatchConfig::from_lookup(concord::env::lookup_in(&pairs)).unwrap();
        assert_eq!(c.limits.rate, Some(Rate::per_minute(500)));
        assert_eq!(c.limits.max_concurrent, Some(8));
        assert_eq!(c.limits.max_queue_size, 64, "the default");
        assert!(c.breaker.is_none());
        assert_eq!(c.retry.max_retries, 0);
        for (name, value) in [
            ("CONCORD_DISPATCH_RATE", "fast"),
            ("CONCORD_DISPATCH_MAX_CONCURRENT", "0"),
            ("CONCORD_DISPATCH_BREAKER_FAILURE_RATIO", "2"),
            ("CONCORD_DISPATCH_BREAKER", "maybe"),
        ] {
            let e =
                DispatchConfig::from_lookup(concord::env::lookup_in(&[(name, value)])).unwrap_err();
            assert_eq!(e.setting, name, "{e}");
        }
    }
}
