//! A provider for the layers' tests: answers after a delay, fails as told, and counts calls and
//! the most it had in flight at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use concord::{
    Capabilities, Error, ErrorKind, EventStream, FinishReason, Provider, Request, Response,
    RuntimeContext, StreamEvent, Usage,
};
use futures_util::future::BoxFuture;

#[derive(Default)]
pub(crate) struct Fake {
    pub delay: Duration,
    /// Kinds to fail with, in order, before succeeding.
    pub failures: Mutex<Vec<ErrorKind>>,
    pub calls: AtomicUsize,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
}

impl Fake {
    pub fn slow(delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            delay,
            ..Self::default()
        })
    }

    pub fn failing(kinds: Vec<ErrorKind>) -> Arc<Self> {
        Arc::new(Self {
            failures: Mutex::new(kinds),
            ..Self::default()
        })
    }

    async fn call(&self) -> concord::Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        struct Leave<'a>(&'a AtomicUsize);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let _leave = Leave(&self.in_flight);
        tokio::time::sleep(self.delay).await;
        let failure = {
            let mut f = self.failures.lock().unwrap();
            (!f.is_empty()).then(|| f.remove(0))
        };
        match failure {
            Some(kind) => {
                Err(Error::new(kind, "fake", "as told").with_retryable(kind.default_retryable()))
            }
            None => Ok(()),
        }
    }
}

fn answer() -> Response {
    Response::from_text("m", "ok", Usage::new(Some(10), Some(5)))
}

impl Provider for Fake {
    fn name(&self) -> &str {
        "fake"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }

    fn generate<'a>(
        &'a self,
        _: &'a Request,
        _: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<Response>> {
        Box::pin(async move { self.call().await.map(|()| answer()) })
    }

    fn stream<'a>(
        &'a self,
        _: &'a Request,
        _: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<EventStream>> {
        Box::pin(async move {
            self.call().await?;
            let events = vec![
                Ok(StreamEvent::Start {
                    id: "r".into(),
                    model: "m".into(),
                }),
                Ok(StreamEvent::TextDelta { text: "ok".into() }),
                Ok(StreamEvent::Finish {
                    finish_reason: FinishReason::Stop,
                    raw_finish_reason: None,
                    usage: Usage::new(Some(10), Some(5)),
                }),
            ];
            Ok(Box::pin(futures_util::stream::iter(events)) as EventStream)
        })
    }
}

pub(crate) fn ctx() -> RuntimeContext {
    RuntimeContext::new().model("m").tenant("t")
}
