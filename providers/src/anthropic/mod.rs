//! Anthropic Messages (contract A3): `event:`-named SSE frames, thinking blocks with their
//! signatures, `input_json_delta` assembly, usage merged from `message_start` and
//! `message_delta`, server-tool blocks tolerated.

mod error;
mod request;
mod response;
pub mod serve;
mod stream;

use crate::context::ResolvedCall;
use crate::error::{Error, Result};
use crate::request::Request;
use crate::response::Response;
use crate::wire::{Encoded, StreamDecoder, WireFormat};

/// The `anthropic-version` sent unless the context's headers carry one.
pub const API_VERSION: &str = "2023-06-01";

/// The Messages wire format (`POST …/v1/messages`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Messages;

impl Messages {
    /// The format.
    pub fn new() -> Self {
        Self
    }
}

impl WireFormat for Messages {
    /// Documented: "prefill Claude's response" (docs.anthropic.com, Messages API); the final
    /// assistant content must not end in whitespace.
    fn continues_assistant_turn(&self) -> bool {
        true
    }

    fn id(&self) -> &'static str {
        "messages"
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
