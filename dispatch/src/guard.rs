//! Running something exactly once when a stream ends — at its end, at its error, or when the
//! caller drops it early — so a permit or a breaker's probe slot is returned either way.

use std::pin::Pin;
use std::task::{Context, Poll};

use concord::{ErrorKind, EventStream, StreamEvent, Usage};
use futures_util::Stream;

/// How a call ended, as a layer's bookkeeping sees it.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// It answered (with its usage, when it reported one).
    Answered(Option<&'a Usage>),
    /// It failed with an error of this kind.
    Failed(ErrorKind),
    /// The caller dropped it first (or a stream ended without its finish, which the adapter
    /// reports as an error before that).
    Dropped,
}

/// `events`, calling `end` once when it ends.
pub(crate) fn on_end<F>(events: EventStream, end: F) -> OnEnd<F>
where
    F: FnOnce(Outcome<'_>) + Send + 'static,
{
    OnEnd {
        events,
        end: Some(end),
        finish: None,
    }
}

pub(crate) struct OnEnd<F: FnOnce(Outcome<'_>)> {
    events: EventStream,
    end: Option<F>,
    /// The finish event's usage, once it came: the stream has answered.
    finish: Option<Usage>,
}

impl<F: FnOnce(Outcome<'_>)> OnEnd<F> {
    fn end(&mut self, failed: Option<ErrorKind>) {
        let Some(end) = self.end.take() else { return };
        match (failed, &self.finish) {
            (Some(kind), _) => end(Outcome::Failed(kind)),
            (None, Some(usage)) => end(Outcome::Answered(Some(usage))),
            (None, None) => end(Outcome::Dropped),
        }
    }
}

// Nothing is structurally pinned: the inner stream is boxed already.
impl<F: FnOnce(Outcome<'_>)> Unpin for OnEnd<F> {}

impl<F: FnOnce(Outcome<'_>)> Stream for OnEnd<F> {
    type Item = concord::Result<StreamEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = self.events.as_mut().poll_next(cx);
        match &item {
            Poll::Ready(Some(Ok(StreamEvent::Finish { usage, .. }))) => {
                self.finish = Some(*usage);
            }
            Poll::Ready(Some(Err(e))) => self.end(Some(e.kind)),
            Poll::Ready(None) => self.end(None),
            _ => {}
        }
        item
    }
}

impl<F: FnOnce(Outcome<'_>)> Drop for OnEnd<F> {
    fn drop(&mut self) {
        // A caller that stops reading right after the finish event has had its answer.
        self.end(None);
    }
}
