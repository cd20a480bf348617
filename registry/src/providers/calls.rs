//! Calls in flight through the registry's handles: counted so a shutdown can wait for them, and
//! cancellable so it can end the ones that outlive its bound.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use concord::{Error, ErrorKind, EventStream};
use futures_util::StreamExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The registry's bookkeeping of calls.
#[derive(Default)]
pub(crate) struct Calls {
    closed: AtomicBool,
    in_flight: AtomicUsize,
    idle: Notify,
    pub(crate) cancel: CancellationToken,
}

/// One call in flight; dropping it ends the call's count.
pub(crate) struct CallGuard(Arc<Calls>);

impl Drop for CallGuard {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Calls {
    /// Counts a new call, or refuses it once the registry is shutting down.
    pub(crate) fn enter(self: &Arc<Self>, provider: &str) -> Result<CallGuard, Error> {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        let guard = CallGuard(self.clone());
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::new(
                ErrorKind::Unavailable,
                provider,
                "the registry is shutting down and takes no new calls",
            ));
        }
        Ok(guard)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Waits until no call is in flight, or `deadline`; `true` when none is.
    pub(crate) async fn drained_by(&self, deadline: tokio::time::Instant) -> bool {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.in_flight() == 0 {
                return true;
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(deadline) => return self.in_flight() == 0,
            }
        }
    }
}

/// The error a call cancelled by a shutdown ends with.
pub(crate) fn cancelled(provider: &str) -> Error {
    Error::new(
        ErrorKind::Cancelled,
        provider,
        "cancelled: the registry shut down before the call finished",
    )
}

/// `stream` ending with `cancelled` when the registry cancels, holding `guard` until it ends.
pub(crate) fn guarded(
    stream: EventStream,
    guard: CallGuard,
    cancel: CancellationToken,
    provider: String,
) -> EventStream {
    struct State {
        stream: EventStream,
        _guard: CallGuard,
        cancel: CancellationToken,
        provider: String,
    }
    let state = State {
        stream,
        _guard: guard,
        cancel,
        provider,
    };
    Box::pin(futures_util::stream::unfold(
        Some(state),
        |state| async move {
            let mut s = state?;
            tokio::select! {
                biased;
                item = s.stream.next() => item.map(|i| (i, Some(s))),
                _ = s.cancel.cancelled() => Some((Err(cancelled(&s.provider)), None)),
            }
        },
    ))
}
