//! The plugin protocol, version 1: JSON lines over a child process's stdin and stdout.
//! `docs/plugins.md` is the prose; these types are the source of truth.
//!
//! 1. The plugin writes a [`Handshake`] as its first line.
//! 2. The host writes [`HostMessage`]s: `generate` and `stream` calls, each with an id of its
//!    choosing, and `cancel` when the caller gave up on one. Calls overlap: a plugin serves
//!    many at once and answers in any order.
//! 3. The plugin answers each call with [`PluginMessage`]s carrying its id: one `response`, or
//!    `event`s ending with the `finish` event, or one `error` (which also ends a stream).
//! 4. When the host closes stdin the plugin exits.
//!
//! stdout carries protocol lines only; a plugin logs on stderr.

use serde::{Deserialize, Serialize};

use crate::capabilities::Capabilities;
use crate::error::{Error, ErrorKind};
use crate::event::StreamEvent;
use crate::request::Request;
use crate::response::Response;

/// The protocol version this host speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// The plugin's first line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Handshake {
    /// Always `"handshake"`.
    #[serde(rename = "type")]
    pub kind: HandshakeTag,
    /// The protocol version the plugin speaks ([`PROTOCOL_VERSION`]).
    pub protocol: u32,
    /// The provider's name, used in errors and reports.
    pub name: String,
    /// The plugin's own version.
    pub version: String,
    /// What it supports; checks of absent capabilities are skipped.
    pub capabilities: Capabilities,
}

/// The tag of a [`Handshake`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum HandshakeTag {
    /// The only value.
    Handshake,
}

/// What the call runs with: the runtime context minus the HTTP client (a plugin brings its
/// own), with the credential resolved (a token source has been asked already).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CallContext {
    /// The model to call.
    pub model: String,
    /// The vendor credential, as the vendor's auth expects it.
    pub credential: String,
    /// `"api_key"` or `"bearer"`.
    pub credential_kind: String,
    /// The vendor base URL, without a trailing `/`.
    pub base_url: String,
    /// The api-version, for endpoints that take one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Extra headers to send with every request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    /// The longest to wait for the vendor (for streams: for the first byte and between chunks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Who the call runs for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

impl std::fmt::Debug for CallContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallContext")
            .field("model", &self.model)
            .field("credential", &"[REDACTED]")
            .field("base_url", &self.base_url)
            .field("timeout_ms", &self.timeout_ms)
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

/// A line from the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HostMessage {
    /// One complete answer, as `Provider::generate`.
    Generate {
        /// The call's id, echoed in every answer.
        id: u64,
        /// The request; its `params` are the call's effective parameters (the request's over
        /// the context's defaults).
        request: Request,
        /// What the call runs with.
        context: CallContext,
    },
    /// A stream of events, as `Provider::stream`.
    Stream {
        /// The call's id.
        id: u64,
        /// The request.
        request: Request,
        /// What the call runs with.
        context: CallContext,
    },
    /// The caller dropped the call: stop it, close its upstream connection, send nothing more.
    Cancel {
        /// The call's id.
        id: u64,
    },
}

/// A line from the plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PluginMessage {
    /// The answer to a `generate`.
    Response {
        /// The call's id.
        id: u64,
        /// The normalised response.
        response: Response,
    },
    /// One event of a `stream`; the `finish` event is the last.
    Event {
        /// The call's id.
        id: u64,
        /// The normalised event.
        event: StreamEvent,
    },
    /// The call failed (for a stream: it ends here).
    Error {
        /// The call's id.
        id: u64,
        /// What went wrong.
        error: WireError,
    },
}

impl PluginMessage {
    /// The call this line belongs to.
    pub fn id(&self) -> u64 {
        match self {
            Self::Response { id, .. } | Self::Event { id, .. } | Self::Error { id, .. } => *id,
        }
    }
}

/// An [`Error`] on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WireError {
    /// The normalised kind (`rate_limited`, `stream_interrupted`, …).
    pub kind: ErrorKind,
    /// The vendor's message, credential removed.
    pub message: String,
    /// The vendor's HTTP status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Whether repeating may succeed; the kind's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
    /// How long the vendor asked to wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// The vendor's request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl WireError {
    /// The [`Error`] it stands for, raised by `provider`.
    pub fn into_error(self, provider: &str) -> Error {
        let retryable = self.retryable.unwrap_or(self.kind.default_retryable());
        let mut e = Error::new(self.kind, provider, self.message)
            .with_retryable(retryable)
            .with_retry_after(self.retry_after_ms.map(std::time::Duration::from_millis))
            .with_request_id(self.request_id);
        e.status = self.status;
        e
    }
}

impl From<&Error> for WireError {
    fn from(e: &Error) -> Self {
        Self {
            kind: e.kind,
            message: e.message.clone(),
            status: e.status,
            retryable: Some(e.retryable),
            retry_after_ms: e.retry_after.map(|d| d.as_millis() as u64),
            request_id: e.request_id.clone(),
        }
    }
}
