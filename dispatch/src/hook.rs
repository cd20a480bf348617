//! The shape of a bookkeeping layer (tower's `Layer` + `Service`, for a [`Provider`]): `enter`
//! before a call — it may wait, or refuse — and `finish` exactly once when the call ends: a
//! `generate` when it returns or is dropped, a stream when it ends, fails or is dropped. One
//! hook covers both operations, so a layer writes its bookkeeping once; [`generate`] and
//! [`stream`] run any hook around any provider, and [`Hooked`] is the provider that does only
//! that. Public, so a crate of its own adds a layer the
//! same way (the model database's metering, a gateway's tenant budget).

use std::future::Future;

use concord::{EventStream, Provider, Request, Response, RuntimeContext};
use futures_util::future::BoxFuture;
use futures_util::StreamExt;

pub use crate::guard::Outcome;

/// A layer's bookkeeping around one call.
pub trait Hook: Send + Sync {
    /// What a call holds between `enter` and `finish` (permits, a probe slot, a start time).
    type Ticket: Send + 'static;

    /// Before the call to `provider`: admit it (possibly after a wait) or refuse it.
    fn enter<'a>(
        &'a self,
        provider: &'a str,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> impl Future<Output = concord::Result<Self::Ticket>> + Send + 'a;

    /// After it, once, however it ended.
    fn finish(ticket: Self::Ticket, outcome: Outcome<'_>);
}

/// Finishes a ticket as `Dropped` unless taken first: the caller dropped the call mid-way.
struct Pending<H: Hook>(Option<H::Ticket>);

impl<H: Hook> Pending<H> {
    fn take(&mut self) -> H::Ticket {
        self.0.take().expect("a ticket is taken once")
    }
}

impl<H: Hook> Drop for Pending<H> {
    fn drop(&mut self) {
        if let Some(ticket) = self.0.take() {
            H::finish(ticket, Outcome::Dropped);
        }
    }
}

/// `inner` with `hook` around each of its calls: a layer that is nothing but bookkeeping.
pub struct Hooked<H, P> {
    /// The bookkeeping.
    pub hook: H,
    /// The provider called.
    pub inner: P,
}

impl<H: Hook, P: Provider> Provider for Hooked<H, P> {
    concord::wrapped_identity!(inner);

    fn generate<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<Response>> {
        generate(&self.hook, &self.inner, request, ctx)
    }

    fn stream<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<EventStream>> {
        stream(&self.hook, &self.inner, request, ctx)
    }
}

/// `inner.generate` between `hook`'s enter and finish.
pub fn generate<'a, H: Hook, P: Provider + ?Sized>(
    hook: &'a H,
    inner: &'a P,
    request: &'a Request,
    ctx: &'a RuntimeContext,
) -> BoxFuture<'a, concord::Result<Response>> {
    Box::pin(async move {
        let mut pending = Pending::<H>(Some(hook.enter(inner.name(), request, ctx).await?));
        let result = inner.generate(request, ctx).await;
        let outcome = match &result {
            Ok(r) => Outcome::Answered(Some(&r.usage)),
            Err(e) => Outcome::Failed(e.kind),
        };
        H::finish(pending.take(), outcome);
        result
    })
}

/// `inner.stream` between `hook`'s enter and finish; the ticket travels with the stream.
pub fn stream<'a, H: Hook, P: Provider + ?Sized>(
    hook: &'a H,
    inner: &'a P,
    request: &'a Request,
    ctx: &'a RuntimeContext,
) -> BoxFuture<'a, concord::Result<EventStream>>
where
    H::Ticket: 'static,
{
    Box::pin(async move {
        let mut pending = Pending::<H>(Some(hook.enter(inner.name(), request, ctx).await?));
        match inner.stream(request, ctx).await {
            Ok(events) => {
                let ticket = pending.take();
                Ok(crate::guard::on_end(events, move |outcome| H::finish(ticket, outcome)).boxed())
            }
            Err(e) => {
                H::finish(pending.take(), Outcome::Failed(e.kind));
                Err(e)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use concord::{ErrorKind, StreamEvent};
    use futures_util::StreamExt;

    use super::*;
    use crate::testing::Fake;

    /// Records every finish.
    #[derive(Default)]
    struct Log(Arc<Mutex<Vec<String>>>);

    impl Hook for Log {
        type Ticket = Arc<Mutex<Vec<String>>>;

        async fn enter(
            &self,
            _: &str,
            _: &Request,
            _: &RuntimeContext,
        ) -> concord::Result<Self::Ticket> {
            Ok(self.0.clone())
        }

        fn finish(ticket: Self::Ticket, outcome: Outcome<'_>) {
            let what = match outcome {
                Outcome::Answered(u) => format!("answered {:?}", u.and_then(|u| u.input_tokens)),
                Outcome::Failed(k) => format!("failed {k}"),
                Outcome::Dropped => "dropped".into(),
            };
            ticket.lock().unwrap().push(what);
        }
    }

    #[tokio::test]
    async fn finish_runs_once_for_every_way_a_call_ends() {
        let log = Log::default();
        let (request, ctx) = (Request::user("hi"), RuntimeContext::new().model("m"));
        let ok = Fake::slow(std::time::Duration::ZERO);
        generate(&log, &*ok, &request, &ctx).await.unwrap();
        let failing = Fake::failing(vec![ErrorKind::ServerError]);
        generate(&log, &*failing, &request, &ctx).await.unwrap_err();
        // Dropped mid-call.
        let slow = Fake::slow(std::time::Duration::from_secs(60));
        let call = generate(&log, &*slow, &request, &ctx);
        let _ = tokio::time::timeout(std::time::Duration::from_millis(10), call).await;
        // A stream read to its end, one dropped before its finish.
        let mut events = stream(&log, &*ok, &request, &ctx).await.unwrap();
        while events.next().await.is_some() {}
        drop(events);
        let mut events = stream(&log, &*ok, &request, &ctx).await.unwrap();
        assert!(matches!(
            events.next().await,
            Some(Ok(StreamEvent::Start { .. }))
        ));
        drop(events);
        assert_eq!(
            *log.0.lock().unwrap(),
            [
                "answered Some(10)",
                "failed server_error",
                "dropped",
                "answered Some(10)",
                "dropped"
            ]
        );
    }
}
