//! Running something exactly once when a stream ends — at its end, at its error, or when the
//! caller drops it early — so a permit or a breaker's probe slot is returned either way.

use std::pin::Pin;
use std::task::{Context, Poll};

use concord::{ErrorKind, EventStream, StreamEvent};
use futures_util::Stream;

/// How a stream ended.
#[derive(Debug)]
pub(crate) enum Ended {
    /// It ended after its finish event (given).
    Finished(StreamEvent),
    /// It ended with an error of this kind.
    Failed(ErrorKind),
    /// The caller dropped it first (or it ended without a finish, which the adapter reports
    /// as an error before that).
    Dropped,
}

/// `events`, calling `end` once when it ends.
pub(crate) fn on_end<F>(events: EventStream, end: F) -> OnEnd<F>
where
    F: FnOnce(Ended) + Send + 'static,
{
    OnEnd {
        events,
        end: Some(end),
        finish: None,
    }
}

pub(crate) struct OnEnd<F: FnOnce(Ended)> {
    events: EventStream,
    end: Option<F>,
    finish: Option<StreamEvent>,
}

impl<F: FnOnce(Ended)> OnEnd<F> {
    fn end(&mut self, how: Ended) {
        if let Some(end) = self.end.take() {
            end(how);
        }
    }
}

// Nothing is structurally pinned: the inner stream is boxed already.
impl<F: FnOnce(Ended)> Unpin for OnEnd<F> {}

impl<F: FnOnce(Ended)> Stream for OnEnd<F> {
    type Item = concord::Result<StreamEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = self.events.as_mut().poll_next(cx);
        match &item {
            Poll::Ready(Some(Ok(event @ StreamEvent::Finish { .. }))) => {
                self.finish = Some(event.clone());
            }
            Poll::Ready(Some(Err(e))) => self.end(Ended::Failed(e.kind)),
            Poll::Ready(None) => {
                let how = match self.finish.take() {
                    Some(finish) => Ended::Finished(finish),
                    None => Ended::Dropped,
                };
                self.end(how);
            }
            _ => {}
        }
        item
    }
}

impl<F: FnOnce(Ended)> Drop for OnEnd<F> {
    fn drop(&mut self) {
        // A caller that stops reading right after the finish event has had its answer.
        let how = match self.finish.take() {
            Some(finish) => Ended::Finished(finish),
            None => Ended::Dropped,
        };
        self.end(how);
    }
}
