//! Google Gemini `generateContent` / `streamGenerateContent?alt=sse` (contract A4): the wire
//! format of the Gemini API and of Vertex AI. `thought` parts as reasoning, function calls with
//! minted ids (arguments whole, or streamed as `partialArgs`), cumulative usage, `RetryInfo`
//! delays.

mod error;
mod partial;
mod request;
mod response;
mod stream;

use crate::context::ResolvedCall;
use crate::error::{Error, Result};
use crate::request::Request;
use crate::response::Response;
use crate::wire::{Encoded, StreamDecoder, WireFormat};

/// The `generateContent` wire format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenerateContent;

impl GenerateContent {
    /// The format.
    pub fn new() -> Self {
        Self
    }
}

impl WireFormat for GenerateContent {
    fn id(&self) -> &'static str {
        "generate-content"
    }

    fn encode(&self, call: &ResolvedCall<'_>, request: &Request, stream: bool) -> Result<Encoded> {
        request::encode(call, request, stream)
    }

    fn decode_response(&self, provider: &str, body: &[u8]) -> Result<Response> {
        response::decode(provider, body)
    }

    fn decode_error(&self, provider: &str, status: u16, body: &[u8]) -> Error {
        error::decode(provider, Some(status), body)
    }

    fn stream_decoder(&self, provider: &str) -> Box<dyn StreamDecoder> {
        Box::new(stream::Decoder::new(provider))
    }
}
