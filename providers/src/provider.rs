//! The `Provider` trait: the one contract every adapter (ours or anyone's) implements.

use futures_util::future::BoxFuture;

use crate::capabilities::Capabilities;
use crate::context::RuntimeContext;
use crate::error::Result;
use crate::event::EventStream;
use crate::request::Request;
use crate::response::Response;

/// A stateless provider: a plain value whose calls take everything they need from the
/// [`RuntimeContext`] passed with them. concord's own providers are
/// [`HttpProvider`](crate::HttpProvider)s built from the descriptor table; anyone's can be
/// checked with the conformance suite (`concord-conformance`). The rules below are what the
/// suite checks, each with its check id; the normalised semantics are in `docs/contract.md`
/// (sections B1–B7), the checks in `docs/conformance.md`.
///
/// **State and context (B6).**
/// - Keep nothing between calls: no credential, client, model, base URL or parameter from one
///   call may reach another; the same value called with contexts A, B, A puts A's, B's, A's
///   values on the wire (SL-002), also under concurrency (SL-003).
/// - A call whose context lacks the model, credential, base URL or client fails with
///   `missing_runtime_context` naming the field, before anything is sent (SL-001); never fall
///   back to a default model or an environment variable.
/// - Send with the context's `client` (its connection pool); never build a client per call
///   (SL-004). Dropping a stream closes the upstream connection promptly (SL-005).
/// - The context's `settings` are the defaults a request's own parameters override; unset ones
///   are absent from the wire (CTR-005).
///
/// **Answers (B1–B4).**
/// - `generate`: text, finish reason, response id, model and usage with `total = input +
///   output` (CTR-001); finish reasons the provider does not know are `other`, never `stop`
///   (CTR-008); unknown fields and enum values are tolerated (CTR-008).
/// - `stream`: one `Start` first, then deltas, then exactly one `Finish` last with usage
///   (CTR-002); assembled, it equals `generate` for the same exchange (CTR-003). UTF-8 split
///   across chunks decodes exactly (CTR-007).
/// - Reasoning is `reasoning`, never answer text; reasoning tokens are counted inside output
///   tokens (RSN-001, USE-001). Cached input tokens are counted inside input tokens (USE-001).
/// - Tool calls: assembled by index in order (TOOL-002), no arguments is `{}` (TOOL-003),
///   arguments that are not JSON end in `malformed_response` (TOOL-008), ids normalised
///   (valid, unique, deterministic; the vendor's kept in `provider_id`, TOOL-006), and a turn
///   that calls tools finishes `tool_calls` whatever the vendor said (B1, TOOL-001).
///   [`kit::parse_arguments`](crate::kit::parse_arguments) and [`ids`](crate::ids) implement
///   these.
///
/// **Errors (B4, B5).**
/// - Every vendor error maps to its [`ErrorKind`](crate::ErrorKind), status, provider name and
///   retryable flag (ERR-001), with `retry_after` from the vendor's signals (ERR-002).
/// - No retries inside a provider: one call is one request (ERR-001). Retrying is a layer
///   (`concord_dispatch::Retry`).
/// - An error event mid-stream ends the stream with an error item of its kind, never a clean
///   finish (ERR-003); a frame that does not parse is `malformed_response` (ERR-004).
/// - A stream that ends without its vendor's terminal marker — mid-text, or after the finish
///   reason but before the marker — ends with `stream_interrupted` (ERR-005).
/// - The context's `timeout` bounds the wait for the first byte and between stream chunks:
///   a stalled vendor gives `timeout` (ERR-006).
/// - No error, `Debug` or `Display` output contains the credential (ERR-007, SEC-001);
///   [`Error::scrub`](crate::Error::scrub) removes it.
///
/// **Capabilities.** A request needing a capability the provider declares absent fails with
/// `unsupported` before sending; the suite skips that capability's checks with the reason and
/// verifies nothing is sent (MM-001).
///
/// The building blocks for all of this are public: [`wire`](crate::wire) (wire format,
/// endpoint, auth, the SSE pipeline with its size cap and between-chunk timeout),
/// [`kit`](crate::kit), [`ids`](crate::ids), [`Error`](crate::Error).
pub trait Provider: Send + Sync {
    /// The provider's name (`openai`, `anthropic`, …), used in errors and reports.
    fn name(&self) -> &str;

    /// What this provider supports.
    fn capabilities(&self) -> Capabilities;

    /// One complete answer.
    fn generate<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, Result<Response>>;

    /// A stream of events (contract B4). The future resolves once the vendor has accepted the
    /// call; errors after that arrive as stream items.
    fn stream<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, Result<EventStream>>;
}

/// `Provider` for a pointer to one: every method forwarded.
macro_rules! forward_through_pointer {
    ($($pointer:ident)::+) => {
        impl<P: Provider + ?Sized> Provider for $($pointer)::+<P> {
            fn name(&self) -> &str {
                (**self).name()
            }

            fn capabilities(&self) -> Capabilities {
                (**self).capabilities()
            }

            fn generate<'a>(
                &'a self,
                request: &'a Request,
                ctx: &'a RuntimeContext,
            ) -> BoxFuture<'a, Result<Response>> {
                (**self).generate(request, ctx)
            }

            fn stream<'a>(
                &'a self,
                request: &'a Request,
                ctx: &'a RuntimeContext,
            ) -> BoxFuture<'a, Result<EventStream>> {
                (**self).stream(request, ctx)
            }
        }
    };
}

forward_through_pointer!(Box);
// A shared provider is a provider: layers (`concord-dispatch`) and registries hold `Arc`s.
forward_through_pointer!(std::sync::Arc);

/// Inside `impl Provider for` a layer: `name` and `capabilities` taken from the provider it
/// wraps, at `self.<field>` — the part every layer that only changes calls would repeat.
///
/// ```ignore
/// impl<P: Provider> Provider for MyLayer<P> {
///     concord::wrapped_identity!(inner);
///     // generate and stream, changed as the layer does
/// }
/// ```
#[macro_export]
macro_rules! wrapped_identity {
    ($field:ident) => {
        fn name(&self) -> &str {
            self.$field.name()
        }

        fn capabilities(&self) -> $crate::Capabilities {
            self.$field.capabilities()
        }
    };
}
