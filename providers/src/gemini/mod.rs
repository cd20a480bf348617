//! Google Gemini `generateContent` / `streamGenerateContent?alt=sse` (contract A4): `thought`
//! parts as reasoning, function calls with minted ids, cumulative usage, `RetryInfo` delays.

mod error;
mod partial;
mod request;
mod response;
mod stream;

use crate::capabilities::Capabilities;
use crate::context::ResolvedCall;
use crate::error::{Error, Result};
use crate::request::Request;
use crate::response::Response;
use crate::wire::{Protocol, StreamDecoder, WireRequest};

/// The API version path segment. `v1beta` carries every feature the adapter uses
/// (thinking config, response schemas); the mock vendor serves `v1` too.
pub const API_VERSION: &str = "v1beta";

pub(crate) const NAME: &str = "gemini";

/// The Gemini adapter. A plain value: it holds no credential, client or model.
#[derive(Debug, Clone)]
pub struct Gemini {
    capabilities: Capabilities,
}

impl Default for Gemini {
    fn default() -> Self {
        Self::new()
    }
}

impl Gemini {
    /// The adapter, declaring every capability.
    pub fn new() -> Self {
        Self {
            capabilities: Capabilities::ALL,
        }
    }

    /// Builds the HTTP request for a resolved call without sending it.
    pub fn encode(
        &self,
        call: &ResolvedCall<'_>,
        request: &Request,
        stream: bool,
    ) -> Result<WireRequest> {
        request::encode(call, request, stream)
    }

    /// Parses a non-streamed answer body.
    pub fn decode_response(&self, body: &[u8]) -> Result<Response> {
        response::decode(body)
    }
}

impl Protocol for Gemini {
    fn name(&self) -> &str {
        NAME
    }

    fn encode(
        &self,
        call: &ResolvedCall<'_>,
        request: &Request,
        stream: bool,
    ) -> Result<WireRequest> {
        Gemini::encode(self, call, request, stream)
    }

    fn decode_response(&self, body: &[u8]) -> Result<Response> {
        Gemini::decode_response(self, body)
    }

    fn decode_error(&self, status: u16, body: &[u8]) -> Error {
        error::decode(Some(status), body)
    }

    fn stream_decoder(&self) -> Box<dyn StreamDecoder> {
        Box::new(stream::Decoder::default())
    }
}

crate::provider::http_provider!(Gemini);
