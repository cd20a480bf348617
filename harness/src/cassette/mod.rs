//! Cassettes: recorded (or synthesised) exchanges with a vendor, redacted before they are
//! written, replayed by a local server. The format is documented in `docs/cassettes.md`.

mod record;
mod redact;
mod replay;
pub mod scan;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
pub use record::{RecordConfig, RecordingProxy};
pub use redact::Redactor;
pub use replay::ReplayServer;

/// The format version this crate writes and reads.
pub const VERSION: u32 = 1;

/// A cassette file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cassette {
    /// Always [`VERSION`].
    pub version: u32,
    /// Where the exchanges come from.
    pub provenance: Provenance,
    /// The exchanges, in the order they happened.
    pub exchanges: Vec<Exchange>,
}

/// Where a cassette comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Provenance {
    /// Recorded from a live vendor.
    Recorded {
        /// The vendor (`openai`, `anthropic`, `gemini`, or a host name).
        vendor: String,
        /// The model used, when known.
        model: Option<String>,
        /// The recording date, `YYYY-MM-DD`.
        date: String,
    },
    /// Written by hand from a vendor's documentation.
    Synthesised {
        /// The document followed.
        doc: String,
    },
}

/// One request and its response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    /// What the client sent.
    pub request: RecordedHttpRequest,
    /// What the vendor answered.
    pub response: RecordedHttpResponse,
}

/// A request as stored in a cassette (secrets already removed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedHttpRequest {
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Query string, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Headers (lower-case names).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body: JSON when it parses, else a string.
    #[serde(default)]
    pub body: Value,
}

/// A response as stored: a buffered body or the chunks exactly as they arrived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedHttpResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers (lower-case names).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A buffered body: the exact text as received (a JSON value is sent re-serialised).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Streamed chunks with their timing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<Vec<Chunk>>,
}

/// One network chunk of a streamed body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chunk {
    /// Milliseconds after the response headers.
    pub offset_ms: u64,
    /// The bytes, as text when they are UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The bytes as hex, when they are not UTF-8 on their own (a character split across chunks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hex: Option<String>,
}

impl Chunk {
    /// A chunk holding `bytes`.
    pub fn new(offset_ms: u64, bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) => Self {
                offset_ms,
                text: Some(text.to_owned()),
                hex: None,
            },
            Err(_) => Self {
                offset_ms,
                text: None,
                hex: Some(bytes.iter().map(|b| format!("{b:02x}")).collect()),
            },
        }
    }

    /// The chunk's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        if let Some(t) = &self.text {
            return t.as_bytes().to_vec();
        }
        let hex = self.hex.as_deref().unwrap_or_default();
        (0..hex.len() / 2)
            .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
            .collect()
    }
}

/// A body as stored: JSON when it parses, else text.
pub(crate) fn body_value(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

impl Cassette {
    /// Reads and validates a cassette file.
    pub fn load(path: &Path) -> Result<Self> {
        let cassette: Cassette = crate::scenario::parse(path, "cassette")?;
        let invalid = |message: String| Error::Invalid {
            path: path.to_owned(),
            what: "cassette",
            message,
        };
        if cassette.version != VERSION {
            return Err(invalid(format!(
                "version {} (this build reads {VERSION})",
                cassette.version
            )));
        }
        for (i, e) in cassette.exchanges.iter().enumerate() {
            if e.response.body.is_some() == e.response.chunks.is_some() {
                return Err(invalid(format!(
                    "exchange {i}: a response has either `body` or `chunks`"
                )));
            }
        }
        Ok(cassette)
    }

    /// Writes the cassette as pretty JSON.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).expect("a cassette serialises") + "\n";
        std::fs::write(path, text).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })
    }
}
