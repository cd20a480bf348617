//! Providers in any language: a process that speaks a small JSON-lines protocol over stdio
//! ([`protocol`]), hosted as an ordinary [`Provider`](crate::Provider) ([`PluginProvider`]).
//! `docs/plugins.md` describes the protocol for plugin authors.

mod host;
pub mod protocol;
#[cfg(feature = "schema")]
pub mod schema;
mod serve;

pub use host::{Manifest, PluginProvider, DEFAULT_CALL_TIMEOUT, HANDSHAKE_TIMEOUT, MAX_LINE_BYTES};
pub use protocol::PROTOCOL_VERSION;
pub use serve::serve;
