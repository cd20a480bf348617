//! The seam every HTTP provider is built from: a [`WireFormat`] (bodies), an [`Endpoint`]
//! (addresses) and an [`Auth`] step (credentials), composed by [`HttpProvider`](crate::HttpProvider).
//! The rest of this module is the HTTP plumbing they share: sending with the caller's client,
//! reading bodies with a cap, SSE decoding, and the retry signals of contract A6.

pub mod auth;
pub mod endpoint;
pub mod format;
pub mod gateway;
pub mod send;
pub mod signals;
pub mod sse;

use std::fmt;

pub use auth::{Auth, CredentialSource};
pub use endpoint::Endpoint;
pub use format::{Encoded, Operation, StreamDecoder, WireFormat};
pub use gateway::Gateway;
pub use send::MAX_BODY_BYTES;
pub use signals::{parse_proto_duration, retry_after, with_headers, MAX_RETRY_AFTER};
pub use sse::{decode_sse, ByteError, MAX_EVENT_BYTES};

use crate::error::{Error, Result};

/// A request ready to send, before the auth step: no network has been touched to build it, and
/// it holds no credential.
#[derive(Clone)]
pub struct WireRequest {
    /// Full URL.
    pub url: String,
    /// Headers the format and endpoint require (the context's extra headers and the auth header
    /// are added at send time).
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

impl fmt::Debug for WireRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WireRequest")
            .field("url", &self.url)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

impl WireRequest {
    /// The body as JSON (for tests and snapshots).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Parses a JSON body or fails with `malformed_response` naming what was being read.
#[cfg_attr(
    not(any(feature = "openai", feature = "anthropic", feature = "gemini")),
    allow(dead_code)
)]
pub(crate) fn parse_json<'a, T: serde::Deserialize<'a>>(
    provider: &str,
    what: &str,
    bytes: &'a [u8],
) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::malformed(provider, format!("{what} does not parse: {e}")))
}

/// A short, printable excerpt of a body that is not the JSON we expected (an HTML error page).
pub(crate) fn body_snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".to_owned();
    }
    let mut cut: String = text.chars().take(300).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}
