//! Fallback: an ordered list of targets — a provider with the context that reaches it — tried in
//! turn. The next is tried when a target's breaker is open (`unavailable`) or it fails
//! retryably before anything reached the caller (for a stream: before its first event); a
//! failure the caller caused (`invalid_request`, …) is returned at once, since another vendor
//! would refuse it too. The last error is returned, its message saying what was tried.
//!
//! Not a `Provider`: each target brings its own context (another vendor's key and URL), so the
//! call's context would mean nothing. The request is the same for every target.

use std::sync::Arc;

use concord::{Error, EventStream, Provider, Request, Response, RuntimeContext, StreamEvent};
use futures_util::StreamExt;

/// One place to send a call.
#[derive(Clone)]
pub struct Target {
    /// The provider (a [`Dispatcher`](crate::Dispatcher), typically, with its breaker).
    pub provider: Arc<dyn Provider>,
    /// The context that reaches it, model included.
    pub ctx: RuntimeContext,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("provider", &self.provider.name())
            .field("model", &self.ctx.model)
            .finish_non_exhaustive()
    }
}

/// Targets tried in order.
#[derive(Clone, Debug)]
pub struct Fallback {
    targets: Vec<Target>,
}

/// Whether a failure should move the call to the next target.
fn moves_on(e: &Error) -> bool {
    e.retryable || e.kind == concord::ErrorKind::Unavailable
}

impl Fallback {
    /// The targets, first preferred. At least one.
    pub fn new(targets: Vec<Target>) -> Result<Self, crate::ConfigError> {
        if targets.is_empty() {
            return Err(crate::ConfigError::new(
                "fallback.targets",
                "needs at least one target".into(),
            ));
        }
        Ok(Self { targets })
    }

    /// The first answer a target gives.
    pub async fn generate(&self, request: &Request) -> concord::Result<Response> {
        let mut tried = Vec::new();
        for (i, t) in self.targets.iter().enumerate() {
            match t.provider.generate(request, &t.ctx).await {
                Ok(r) => return Ok(r),
                Err(e) if moves_on(&e) && i + 1 < self.targets.len() => {
                    tracing::info!(provider = t.provider.name(), kind = %e.kind, "falling back");
                    tried.push(format!("{}: {}", t.provider.name(), e.kind));
                }
                Err(e) => return Err(annotate(e, &tried)),
            }
        }
        unreachable!("the last target returns")
    }

    /// The first stream a target starts. A target whose stream fails before its first event is
    /// left for the next; after the first event the stream is the caller's, errors included.
    pub async fn stream(&self, request: &Request) -> concord::Result<EventStream> {
        let mut tried = Vec::new();
        for (i, t) in self.targets.iter().enumerate() {
            let last = i + 1 == self.targets.len();
            let failed = match t.provider.stream(request, &t.ctx).await {
                Ok(mut events) => match events.next().await {
                    Some(Ok(first)) => {
                        let first: concord::Result<StreamEvent> = Ok(first);
                        return Ok(futures_util::stream::iter([first]).chain(events).boxed());
                    }
                    Some(Err(e)) => e,
                    None => Error::new(
                        concord::ErrorKind::StreamInterrupted,
                        t.provider.name(),
                        "the stream ended before its first event",
                    ),
                },
                Err(e) => e,
            };
            if moves_on(&failed) && !last {
                tried.push(format!("{}: {}", t.provider.name(), failed.kind));
                continue;
            }
            return Err(annotate(failed, &tried));
        }
        unreachable!("the last target returns")
    }
}

fn annotate(mut e: Error, tried: &[String]) -> Error {
    if !tried.is_empty() {
        e.message = format!(
            "{} (after falling back from {})",
            e.message,
            tried.join(", ")
        );
    }
    e
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use concord::ErrorKind;

    use super::*;
    use crate::testing::{ctx, Fake};

    #[tokio::test]
    async fn retryable_failures_move_on_and_the_callers_mistakes_do_not() {
        let down = Fake::failing(vec![ErrorKind::Overloaded; 4]);
        let up = Fake::slow(Duration::ZERO);
        let both = Fallback::new(vec![
            Target {
                provider: down.clone(),
                ctx: ctx(),
            },
            Target {
                provider: up.clone(),
                ctx: ctx(),
            },
        ])
        .unwrap();
        both.generate(&Request::user("hi")).await.unwrap();
        let mut events = both.stream(&Request::user("hi")).await.unwrap();
        assert!(matches!(
            events.next().await,
            Some(Ok(StreamEvent::Start { .. }))
        ));
        assert_eq!(up.calls.load(std::sync::atomic::Ordering::SeqCst), 2);

        let wrong = Fake::failing(vec![ErrorKind::InvalidRequest]);
        let spare = Fake::slow(Duration::ZERO);
        let f = Fallback::new(vec![
            Target {
                provider: wrong,
                ctx: ctx(),
            },
            Target {
                provider: spare.clone(),
                ctx: ctx(),
            },
        ])
        .unwrap();
        assert_eq!(
            f.generate(&Request::user("hi")).await.unwrap_err().kind,
            ErrorKind::InvalidRequest
        );
        assert_eq!(spare.calls.load(std::sync::atomic::Ordering::SeqCst), 0);

        let all_down = Fallback::new(vec![
            Target {
                provider: Fake::failing(vec![ErrorKind::Overloaded]),
                ctx: ctx(),
            },
            Target {
                provider: Fake::failing(vec![ErrorKind::ServerError]),
                ctx: ctx(),
            },
        ])
        .unwrap();
        let e = all_down.generate(&Request::user("hi")).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::ServerError);
        assert!(e.message.contains("fake: overloaded"), "{}", e.message);
        assert!(Fallback::new(Vec::new()).is_err());
    }
}
