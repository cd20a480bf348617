//! The OpenAI Responses API (contract A2): `POST …/responses`, for OpenAI, Azure and the
//! compatible servers that implement it (xAI, LM Studio, vLLM, OpenRouter). Stateless by
//! default; named stream events ending on `response.completed`, `.incomplete` or `.failed`.

mod request;
mod response;
mod stream;

use crate::context::ResolvedCall;
use crate::error::{Error, Result};
use crate::request::Request;
use crate::response::Response;
use crate::wire::{Encoded, StreamDecoder, WireFormat};

/// The Responses wire format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Responses;

impl Responses {
    /// The format.
    pub fn new() -> Self {
        Self
    }
}

impl WireFormat for Responses {
    fn id(&self) -> &'static str {
        "responses"
    }

    fn encode(&self, call: &ResolvedCall<'_>, request: &Request, stream: bool) -> Result<Encoded> {
        request::encode(call, request, stream)
    }

    fn decode_response(&self, provider: &str, body: &[u8]) -> Result<Response> {
        response::decode(provider, body)
    }

    fn decode_error(&self, provider: &str, status: u16, body: &[u8]) -> Error {
        // The same error object as Chat Completions.
        crate::openai::error::decode(provider, Some(status), body)
    }

    fn stream_decoder(&self, provider: &str) -> Box<dyn StreamDecoder> {
        Box::new(stream::Decoder::new(provider))
    }
}
