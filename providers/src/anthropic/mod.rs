//! Anthropic Messages (contract A3): `event:`-named SSE frames, thinking blocks,
//! `input_json_delta` assembly, usage merged from `message_start` and `message_delta`.

mod error;
mod request;
mod response;
mod stream;

use crate::capabilities::Capabilities;
use crate::context::ResolvedCall;
use crate::error::{Error, Result};
use crate::request::Request;
use crate::response::Response;
use crate::wire::{Protocol, StreamDecoder, WireRequest};

/// The `anthropic-version` sent unless the context's headers carry one.
pub const API_VERSION: &str = "2023-06-01";

/// The Messages adapter. A plain value: it holds no credential, client or model.
#[derive(Debug, Clone)]
pub struct Anthropic {
    capabilities: Capabilities,
}

impl Default for Anthropic {
    fn default() -> Self {
        Self::new()
    }
}

impl Anthropic {
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

pub(crate) const NAME: &str = "anthropic";

impl Protocol for Anthropic {
    fn name(&self) -> &str {
        NAME
    }

    fn encode(
        &self,
        call: &ResolvedCall<'_>,
        request: &Request,
        stream: bool,
    ) -> Result<WireRequest> {
        Anthropic::encode(self, call, request, stream)
    }

    fn decode_response(&self, body: &[u8]) -> Result<Response> {
        Anthropic::decode_response(self, body)
    }

    fn decode_error(&self, status: u16, body: &[u8]) -> Error {
        error::decode(Some(status), body)
    }

    fn stream_decoder(&self) -> Box<dyn StreamDecoder> {
        Box::new(stream::Decoder::default())
    }
}

crate::provider::http_provider!(Anthropic);
