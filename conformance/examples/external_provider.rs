//! Running the whole conformance suite against a provider that lives outside the `concord`
//! crate: here `Metered`, this example's own provider, which counts tokens per tenant and
//! delegates the wire work to whichever protocol adapter it is given.
//!
//! `cargo run -p concord-conformance --example external_provider` prints the matrix and exits
//! non-zero on any failure; inside a `#[test]`, call `report.assert_passed()` instead.

use std::collections::HashMap;
use std::sync::Mutex;

use concord::{Capabilities, EventStream, Provider, Request, Response, RuntimeContext};
use concord_conformance::{Protocol, Subject, Suite};
use futures_util::future::BoxFuture;

/// Counts output tokens per tenant. Usage totals are shared, long-lived bookkeeping the caller
/// asked for, not per-call state: the credential, model and client still come with each call.
struct Metered<P> {
    inner: P,
    tokens_by_tenant: Mutex<HashMap<String, u64>>,
}

impl<P: Provider> Provider for Metered<P> {
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
            let response = self.inner.generate(request, ctx).await?;
            let tenant = ctx.tenant.clone().unwrap_or_default();
            *self
                .tokens_by_tenant
                .lock()
                .expect("lock")
                .entry(tenant)
                .or_default() += response.usage.output_tokens.unwrap_or(0);
            Ok(response)
        })
    }

    fn stream<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<EventStream>> {
        self.inner.stream(request, ctx)
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let subjects = [
        Subject::new(
            "metered-openai",
            Protocol::Openai,
            Metered {
                inner: concord::builtin("openai-compatible").expect("built with openai"),
                tokens_by_tenant: Mutex::default(),
            },
        ),
        Subject::new(
            "metered-gemini",
            Protocol::Gemini,
            Metered {
                inner: concord::builtin("gemini").expect("built with gemini"),
                tokens_by_tenant: Mutex::default(),
            },
        ),
    ];
    let report = Suite::new().subjects(subjects).run().await;
    print!("{}", report.matrix());
    if !report.passed() {
        eprintln!("{}", report.failures_text());
        std::process::exit(1);
    }
}
