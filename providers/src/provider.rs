//! The `Provider` trait: the one contract every adapter (ours or anyone's) implements.

use futures_util::future::BoxFuture;

use crate::capabilities::Capabilities;
use crate::context::RuntimeContext;
use crate::error::Result;
use crate::event::EventStream;
use crate::request::Request;
use crate::response::Response;

/// A stateless provider: a plain value whose calls take everything they need from the
/// [`RuntimeContext`] passed with them. Implementations must not keep credentials, clients,
/// models or any per-call state between calls (contract B6).
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

/// Implements [`Provider`] for an adapter type that implements `wire::Protocol`, and gives it
/// a public `decode_stream` for feeding raw SSE bytes (tests, benchmarks, other transports).
macro_rules! http_provider {
    ($ty:ty) => {
        impl $ty {
            /// Decodes a raw SSE byte stream into normalised events.
            pub fn decode_stream<S, E>(&self, bytes: S) -> $crate::EventStream
            where
                S: futures_util::Stream<Item = std::result::Result<bytes::Bytes, E>>
                    + Send
                    + 'static,
                E: Into<$crate::wire::ByteError> + Send + 'static,
            {
                $crate::wire::decode_sse(
                    $crate::wire::Protocol::name(self).to_owned(),
                    bytes,
                    $crate::wire::Protocol::stream_decoder(self),
                    None,
                )
            }
        }

        impl $crate::provider::Provider for $ty {
            fn name(&self) -> &str {
                $crate::wire::Protocol::name(self)
            }

            fn capabilities(&self) -> $crate::Capabilities {
                self.capabilities
            }

            fn generate<'a>(
                &'a self,
                request: &'a $crate::Request,
                ctx: &'a $crate::RuntimeContext,
            ) -> futures_util::future::BoxFuture<'a, $crate::Result<$crate::Response>> {
                Box::pin(async move {
                    let call = $crate::context::resolve(
                        $crate::wire::Protocol::name(self),
                        &self.capabilities,
                        request,
                        ctx,
                        false,
                    )?;
                    $crate::wire::generate(self, call, request).await
                })
            }

            fn stream<'a>(
                &'a self,
                request: &'a $crate::Request,
                ctx: &'a $crate::RuntimeContext,
            ) -> futures_util::future::BoxFuture<'a, $crate::Result<$crate::EventStream>> {
                Box::pin(async move {
                    let call = $crate::context::resolve(
                        $crate::wire::Protocol::name(self),
                        &self.capabilities,
                        request,
                        ctx,
                        true,
                    )?;
                    $crate::wire::stream(self, call, request).await
                })
            }
        }
    };
}
pub(crate) use http_provider;
