//! The bounded FIFO queue in front of the limits: how many calls wait, and the refusal a call
//! gets when it cannot wait — `rate_limited`, retryable, with when to come back.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use concord::{Error, ErrorKind};

/// The number of calls waiting.
#[derive(Debug, Default, Clone)]
pub(crate) struct Queue {
    waiting: Arc<AtomicUsize>,
}

impl Queue {
    pub fn len(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Joins the queue until the returned place is dropped (served, refused, or given up).
    pub fn join(&self, provider: &str) -> Place {
        let depth = self.waiting.fetch_add(1, Ordering::SeqCst) + 1;
        crate::metrics::queue(provider, depth);
        Place {
            waiting: self.waiting.clone(),
            provider: provider.to_owned(),
        }
    }
}

/// A call's place in the queue.
pub(crate) struct Place {
    waiting: Arc<AtomicUsize>,
    provider: String,
}

impl Drop for Place {
    fn drop(&mut self) {
        let depth = self.waiting.fetch_sub(1, Ordering::SeqCst) - 1;
        crate::metrics::queue(&self.provider, depth);
    }
}

/// Why a call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The queue was full.
    Full,
    /// Its wait would pass `queue_timeout`.
    Timeout,
}

/// The error a refused call gets: retryable, with a `retry_after` of at least 1 ms.
pub(crate) fn refuse(provider: &str, why: String, retry_after: Duration, r: Refusal) -> Error {
    let reason = match r {
        Refusal::Full => "queue_full",
        Refusal::Timeout => "queue_timeout",
    };
    crate::metrics::rejected(provider, reason);
    tracing::info!(
        provider,
        retry_after_ms = retry_after.as_millis() as u64,
        "{why}"
    );
    Error::new(ErrorKind::RateLimited, provider, why)
        .with_retryable(true)
        .with_retry_after(Some(retry_after.max(Duration::from_millis(1))))
}
