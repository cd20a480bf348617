//! Caps on calls in flight, per key (the provider; the provider and model; the provider and
//! tenant): a call holds one permit of each cap that applies until it ends or is dropped.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use concord::RuntimeContext;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::key::{KeyBy, Parts};

/// The caps and their semaphores, per cap and key ([`Parts`]: a limiter wraps one provider).
#[derive(Debug, Default)]
pub(crate) struct Slots {
    caps: Vec<(usize, KeyBy)>,
    semaphores: Vec<HashMap<Parts, Arc<Semaphore>>>,
}

impl Slots {
    pub fn new(caps: Vec<(usize, KeyBy)>) -> Self {
        Self {
            semaphores: caps.iter().map(|_| HashMap::new()).collect(),
            caps,
        }
    }

    /// New caps apply to the keys seen from now on; calls holding permits keep them.
    pub fn set_caps(&mut self, caps: Vec<(usize, KeyBy)>) {
        if caps != self.caps {
            *self = Slots::new(caps);
        }
    }

    /// The semaphores a call with `ctx` needs a permit of.
    pub fn for_call(&mut self, ctx: &RuntimeContext) -> Vec<Arc<Semaphore>> {
        let mut out = Vec::with_capacity(self.caps.len());
        for ((cap, by), semaphores) in self.caps.iter().zip(&mut self.semaphores) {
            let key = by.parts(ctx);
            out.push(
                semaphores
                    .entry(key)
                    .or_insert_with(|| Arc::new(Semaphore::new(*cap)))
                    .clone(),
            );
        }
        out
    }
}

/// Whether any of `semaphores` has no permit free now.
pub(crate) fn any_full(semaphores: &[Arc<Semaphore>]) -> bool {
    semaphores.iter().any(|s| s.available_permits() == 0)
}

/// A permit of each, waiting until `deadline`; `None` when one did not free in time.
pub(crate) async fn acquire(
    semaphores: Vec<Arc<Semaphore>>,
    deadline: Instant,
) -> Option<Vec<OwnedSemaphorePermit>> {
    let mut permits = Vec::with_capacity(semaphores.len());
    for semaphore in semaphores {
        match tokio::time::timeout_at(deadline.into(), semaphore.acquire_owned()).await {
            Ok(Ok(permit)) => permits.push(permit),
            // The limiter never closes its semaphores.
            Ok(Err(_)) => unreachable!("the limiter never closes its semaphores"),
            Err(_) => return None,
        }
    }
    Some(permits)
}

/// How long calls have been taking (an exponentially weighted mean), for the `retry_after` of
/// a call refused by a cap: when a slot frees depends on how long the calls in flight take.
#[derive(Debug, Default)]
pub(crate) struct Durations {
    pub mean: Option<Duration>,
}

impl Durations {
    pub fn record(&mut self, d: Duration) {
        self.mean = Some(match self.mean {
            Some(m) => (m * 7 + d) / 8,
            None => d,
        });
    }
}
