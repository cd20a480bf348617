//! Deliberately broken dispatchers: the DSP checks testing themselves. Each is concord-dispatch's
//! dispatcher with one thing wrong, the way real ones get it wrong; the self-test asserts each
//! makes exactly its DSP checks fail.

use std::sync::Arc;

use concord::{Error, ErrorKind, EventStream, Provider, Request, Response, RuntimeContext};
use concord_dispatch::{DispatchConfig, Dispatcher};
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use tokio::sync::Semaphore;

use crate::subject::{DispatchFactory, Dispatched};

/// What a broken dispatcher gets wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DispatchFlaw {
    /// Ignores the rate limit.
    IgnoresRate,
    /// Refuses without saying when to come back.
    NoRetryAfter,
    /// Ignores the concurrency cap.
    IgnoresConcurrency,
    /// Has no circuit breaker.
    NoBreaker,
    /// A breaker whose cooldown never ends (the gateways' "cooldown that never ends").
    NeverHalfOpens,
    /// Retries every failure at once, whatever its kind or retry_after.
    RetriesEverything,
    /// An unbounded queue: never refuses, only makes callers wait.
    UnboundedQueue,
    /// Its own concurrency cap, whose permit is lost when a caller drops the call.
    LeaksPermitOnDrop,
    /// Recovers a cut stream by sending the request again and passing on everything it
    /// returns: the caller sees the answer's start and text twice.
    ReplaysFromStart,
}

impl DispatchFlaw {
    /// Every flaw.
    pub const ALL: [DispatchFlaw; 9] = [
        Self::IgnoresRate,
        Self::NoRetryAfter,
        Self::IgnoresConcurrency,
        Self::NoBreaker,
        Self::NeverHalfOpens,
        Self::RetriesEverything,
        Self::UnboundedQueue,
        Self::LeaksPermitOnDrop,
        Self::ReplaysFromStart,
    ];

    /// The factory for a dispatcher with this flaw.
    pub fn factory(self) -> DispatchFactory {
        Arc::new(move |provider, mut config: DispatchConfig| {
            let mut own_cap = None;
            match self {
                Self::IgnoresRate => config.limits.rate = None,
                Self::IgnoresConcurrency => config.limits.max_concurrent = None,
                Self::NoBreaker => config.breaker = None,
                Self::NeverHalfOpens => {
                    if let Some(b) = config.breaker.as_mut() {
                        b.cooldown = std::time::Duration::from_secs(3600);
                        b.max_cooldown = b.cooldown;
                    }
                }
                Self::UnboundedQueue => config.limits.max_queue_size = usize::MAX,
                Self::LeaksPermitOnDrop => own_cap = config.limits.max_concurrent.take(),
                Self::ReplaysFromStart => config.recovery.enabled = false,
                Self::NoRetryAfter | Self::RetriesEverything => {}
            }
            let d = Dispatcher::from_arc(provider, config).map_err(|e| e.to_string())?;
            let events = d.events();
            let provider: Arc<dyn Provider> = Arc::new(Flawed {
                inner: Arc::new(d),
                flaw: self,
                cap: own_cap.map(|n| Arc::new(Semaphore::new(n))),
            });
            Ok(Dispatched {
                provider,
                events: Some(events),
            })
        })
    }
}

struct Flawed {
    inner: Arc<Dispatcher>,
    flaw: DispatchFlaw,
    cap: Option<Arc<Semaphore>>,
}

impl Flawed {
    fn error(&self, mut e: Error) -> Error {
        if self.flaw == DispatchFlaw::NoRetryAfter && e.kind == ErrorKind::RateLimited {
            e.retry_after = None;
        }
        e
    }

    async fn permit(&self) -> Option<LostOnDrop> {
        let cap = self.cap.as_ref()?;
        let permit = cap.clone().acquire_owned().await.ok()?;
        Some(LostOnDrop(Some(permit)))
    }
}

/// Returns its permit when the call completes; forgets it (leaks it) when the call is dropped.
struct LostOnDrop(Option<tokio::sync::OwnedSemaphorePermit>);

impl LostOnDrop {
    fn complete(mut self) {
        self.0.take();
    }
}

impl Drop for LostOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            p.forget();
        }
    }
}

impl Provider for Flawed {
    concord::wrapped_identity!(inner);

    fn generate<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<Response>> {
        Box::pin(async move {
            let permit = self.permit().await;
            let mut result = self.inner.generate(request, ctx).await;
            if self.flaw == DispatchFlaw::RetriesEverything {
                for _ in 0..2 {
                    if result.is_ok() {
                        break;
                    }
                    result = self.inner.generate(request, ctx).await;
                }
            }
            if let Some(p) = permit {
                p.complete();
            }
            result.map_err(|e| self.error(e))
        })
    }

    fn stream<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<EventStream>> {
        Box::pin(async move {
            let permit = self.permit().await;
            let result = self.inner.stream(request, ctx).await;
            if let Some(p) = permit {
                p.complete();
            }
            let events = result.map_err(|e| self.error(e))?;
            if self.flaw != DispatchFlaw::ReplaysFromStart {
                return Ok(events);
            }
            // On the first error, the whole request again, its events passed on as they come.
            let (inner, request, ctx) = (self.inner.clone(), request.clone(), ctx.clone());
            let replaying = futures_util::stream::unfold(
                (events, Some((inner, request, ctx))),
                |(mut events, mut again)| async move {
                    loop {
                        match events.next().await {
                            Some(Err(e)) => match again.take() {
                                Some((inner, request, ctx)) => {
                                    match inner.stream(&request, &ctx).await {
                                        Ok(fresh) => events = fresh,
                                        Err(_) => return Some((Err(e), (events, None))),
                                    }
                                }
                                None => return Some((Err(e), (events, None))),
                            },
                            Some(item) => return Some((item, (events, again))),
                            None => return None,
                        }
                    }
                },
            );
            Ok(Box::pin(replaying) as EventStream)
        })
    }
}
