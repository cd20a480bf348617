//! Criterion benchmarks for concord live in `benches/`; see `docs/benchmarks.md`. This library
//! holds what several benches share.
#![forbid(unsafe_code)]

use concord::{Capabilities, EventStream, Provider, Request, Response, RuntimeContext, Usage};
use futures_util::future::BoxFuture;

/// A provider that answers at once from memory, so a bench measures what wraps it.
pub struct Instant {
    name: &'static str,
    model: &'static str,
    usage: Usage,
}

impl Instant {
    /// Answers as `model`, named `name`, reporting `input` and `output` tokens.
    pub fn new(name: &'static str, model: &'static str, input: u64, output: u64) -> Self {
        Self {
            name,
            model,
            usage: Usage::new(Some(input), Some(output)),
        }
    }
}

impl Provider for Instant {
    fn name(&self) -> &str {
        self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }

    fn generate<'a>(
        &'a self,
        _: &'a Request,
        _: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<Response>> {
        Box::pin(async { Ok(Response::from_text(self.model, "ok", self.usage)) })
    }

    fn stream<'a>(
        &'a self,
        _: &'a Request,
        _: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<EventStream>> {
        Box::pin(async { Err(concord::Error::unsupported(self.name, "streaming")) })
    }
}
