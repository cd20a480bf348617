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
/// models or any per-call state between calls (contract B6). concord's own providers are
/// [`HttpProvider`](crate::HttpProvider)s built from the descriptor table.
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
