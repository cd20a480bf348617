//! Deliberately broken providers: the suite testing itself. Each wraps a working provider and
//! breaks one rule; the self-test asserts each makes exactly its checks fail. A check that no
//! broken provider can fail is not yet a check.

use std::sync::Mutex;

use concord::{
    Capabilities, Credential, Error, ErrorKind, EventStream, FinishReason, Provider, Request,
    Response, RuntimeContext, StreamEvent,
};
use futures_util::future::BoxFuture;
use futures_util::StreamExt;

/// Which rule a [`Broken`] provider breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    /// Keeps the first credential it sees and uses it for every later call (B6).
    KeepsFirstCredential,
    /// Drops usage from the finish event of streams (B2).
    DropsStreamUsage,
    /// Reports Gemini's `STOP` with function calls as `stop` (B1).
    StopWithToolCallsIsStop,
    /// Puts the key in error messages (B5).
    KeyInErrors,
    /// Reports a stream cut without its terminal marker as finished (B4).
    TruncatedIsFinished,
    /// Retries every failed call, a 400 included, inside the provider.
    RetriesEverything,
    /// Builds a fresh HTTP client for every call instead of using the one it was given.
    OwnClientPerCall,
}

impl Flaw {
    /// Every flaw.
    pub const ALL: [Flaw; 7] = [
        Self::KeepsFirstCredential,
        Self::DropsStreamUsage,
        Self::StopWithToolCallsIsStop,
        Self::KeyInErrors,
        Self::TruncatedIsFinished,
        Self::RetriesEverything,
        Self::OwnClientPerCall,
    ];
}

/// A working provider with one flaw.
pub struct Broken<P> {
    inner: P,
    flaw: Flaw,
    kept: Mutex<Option<Credential>>,
}

impl<P: Provider> Broken<P> {
    /// `inner` with `flaw`.
    pub fn new(inner: P, flaw: Flaw) -> Self {
        Self {
            inner,
            flaw,
            kept: Mutex::new(None),
        }
    }

    fn ctx(&self, ctx: &RuntimeContext) -> RuntimeContext {
        let mut ctx = ctx.clone();
        if self.flaw == Flaw::OwnClientPerCall && ctx.client.is_some() {
            ctx.client = Some(reqwest::Client::new());
        }
        if self.flaw == Flaw::KeepsFirstCredential {
            let mut kept = self.kept.lock().expect("lock");
            match (&*kept, &ctx.credential) {
                (Some(first), Some(_)) => ctx.credential = Some(first.clone()),
                (None, Some(c)) => *kept = Some(c.clone()),
                _ => {}
            }
        }
        ctx
    }

    fn error(&self, e: Error, ctx: &RuntimeContext) -> Error {
        match (self.flaw, &ctx.credential) {
            (Flaw::KeyInErrors, Some(c)) => Error {
                message: format!("{} (key {})", e.message, c.expose()),
                ..e
            },
            _ => e,
        }
    }

    fn response(&self, mut r: Response) -> Response {
        if self.flaw == Flaw::StopWithToolCallsIsStop
            && r.raw_finish_reason.as_deref() == Some("STOP")
        {
            r.finish_reason = FinishReason::Stop;
        }
        r
    }
}

impl<P: Provider> Provider for Broken<P> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn generate<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<Response>> {
        Box::pin(async move {
            let ctx = self.ctx(ctx);
            let mut result = self.inner.generate(request, &ctx).await;
            if self.flaw == Flaw::RetriesEverything {
                for _ in 0..2 {
                    if result.is_ok() {
                        break;
                    }
                    result = self.inner.generate(request, &ctx).await;
                }
            }
            result
                .map(|r| self.response(r))
                .map_err(|e| self.error(e, &ctx))
        })
    }

    fn stream<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<EventStream>> {
        Box::pin(async move {
            let ctx = self.ctx(ctx);
            let mut started = self.inner.stream(request, &ctx).await;
            if self.flaw == Flaw::RetriesEverything && started.is_err() {
                started = self.inner.stream(request, &ctx).await;
            }
            let events = started.map_err(|e| self.error(e, &ctx))?;
            let flaw = self.flaw;
            let key = ctx.credential.as_ref().map(|c| c.expose().to_owned());
            let events = events.map(move |item| match (flaw, item) {
                (
                    Flaw::DropsStreamUsage,
                    Ok(StreamEvent::Finish {
                        finish_reason,
                        raw_finish_reason,
                        ..
                    }),
                ) => Ok(StreamEvent::Finish {
                    finish_reason,
                    raw_finish_reason,
                    usage: Default::default(),
                }),
                (
                    Flaw::StopWithToolCallsIsStop,
                    Ok(StreamEvent::Finish {
                        raw_finish_reason,
                        usage,
                        ..
                    }),
                ) if raw_finish_reason.as_deref() == Some("STOP") => Ok(StreamEvent::Finish {
                    finish_reason: FinishReason::Stop,
                    raw_finish_reason,
                    usage,
                }),
                (Flaw::TruncatedIsFinished, Err(e)) if e.kind == ErrorKind::StreamInterrupted => {
                    Ok(StreamEvent::Finish {
                        finish_reason: FinishReason::Stop,
                        raw_finish_reason: None,
                        usage: Default::default(),
                    })
                }
                (Flaw::KeyInErrors, Err(e)) => Err(Error {
                    message: format!("{} (key {})", e.message, key.clone().unwrap_or_default()),
                    ..e
                }),
                (_, item) => item,
            });
            Ok(Box::pin(events) as EventStream)
        })
    }
}
