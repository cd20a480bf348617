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

/// `base` with what the model database says of the provider laid over it.
pub fn limits_for(base: &Limits, listed: Option<&ProviderLimits>) -> Limits {
    let Some(c) = listed else {
        return base.clone();
    };
    Limits {
        rate: c.requests_per_minute.map(Rate::per_minute).or(base.rate),
        tokens_per_minute: c.tokens_per_minute.or(base.tokens_per_minute),
        max_concurrent: c.max_parallel.map(|n| n as usize).or(base.max_concurrent),
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
) -> bool {
    let want = limits_for(base, models.limits(provider).as_ref());
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
            apply(&models, &provider, &base, &d, &mut applied);
        }
    })
}
