//! The model database's provider limits reach the running dispatcher: requests and tokens per
//! minute and calls in flight, laid over the limits the provider was configured with, applied
//! with `Dispatcher::set_limits` (no restart; calls in flight keep their permits). Applied
//! every `every` — the bound on how long an edit takes to be enforced, given the model database's
//! own refresh for edits made elsewhere.

use std::sync::{Arc, Weak};
use std::time::Duration;

use concord_dispatch::{Dispatcher, Limits, Rate};

use crate::model::ProviderLimits;
use crate::Models;

/// `base` with what the model database says of the provider laid over it, at `1 / share` of
/// each (the model database's limits are the deployment's: an instance that cannot share them
/// through Redis enforces its share, `share` being the instances it knows of; at least one).
pub fn limits_for(base: &Limits, listed: Option<&ProviderLimits>, share: u32) -> Limits {
    let Some(c) = listed else {
        return base.clone();
    };
    let part = |n: u32| (n / share.max(1)).max(1);
    Limits {
        rate: c
            .requests_per_minute
            .map(|n| Rate::per_minute(part(n)))
            .or(base.rate),
        tokens_per_minute: c.tokens_per_minute.map(part).or(base.tokens_per_minute),
        max_concurrent: c
            .max_parallel
            .map(|n| part(n) as usize)
            .or(base.max_concurrent),
        ..base.clone()
    }
}

/// Applies the model database's limits of `provider` to `dispatcher` when they differ from
/// `applied` (updated); whether they changed.
pub fn apply(
    models: &Models,
    provider: &str,
    base: &Limits,
    dispatcher: &Dispatcher,
    applied: &mut Option<Limits>,
    share: u32,
) -> bool {
    let want = limits_for(base, models.limits(provider).as_ref(), share);
    if applied.as_ref() == Some(&want) {
        return false;
    }
    match dispatcher.set_limits(want.clone()) {
        Ok(()) => {
            tracing::info!(provider, "limits from the model database applied");
            *applied = Some(want);
            true
        }
        Err(e) => {
            tracing::warn!(provider, error = %e, "the model database's limits cannot be applied");
            false
        }
    }
}

/// Keeps `dispatcher` on the model database's limits of `provider`, checking every `every`, until
/// the dispatcher is dropped.
pub fn follow(
    models: Arc<Models>,
    provider: String,
    base: Limits,
    dispatcher: Weak<Dispatcher>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut applied = Some(base.clone());
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let Some(d) = dispatcher.upgrade() else {
                return;
            };
            apply(&models, &provider, &base, &d, &mut applied, 1);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_without_the_shared_state_takes_its_part_of_the_deployments_limits() {
        let base = Limits::default();
        let listed = ProviderLimits {
            provider: "openai".into(),
            requests_per_minute: Some(10),
            tokens_per_minute: Some(1000),
            max_parallel: Some(3),
        };
        let whole = limits_for(&base, Some(&listed), 1);
        assert_eq!(whole.rate, Some(Rate::per_minute(10)));
        assert_eq!(whole.max_concurrent, Some(3));
        let half = limits_for(&base, Some(&listed), 2);
        assert_eq!(half.rate, Some(Rate::per_minute(5)));
        assert_eq!(half.tokens_per_minute, Some(500));
        assert_eq!(half.max_concurrent, Some(1));
        // Never nothing: one a minute, one at a time, however many instances.
        let tiny = limits_for(&base, Some(&listed), 50);
        assert_eq!(tiny.rate, Some(Rate::per_minute(1)));
        assert_eq!(tiny.max_concurrent, Some(1));
    }
}
