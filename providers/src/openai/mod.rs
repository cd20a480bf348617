//! OpenAI Chat Completions (contract A1). One adapter for OpenAI, OpenRouter and any
//! OpenAI-compatible server; the flavour only changes the name, a few body fields and defaults.

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

/// Which server the adapter talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// api.openai.com: `max_completion_tokens`, `reasoning_effort`.
    OpenAi,
    /// OpenRouter: `max_tokens`, a `reasoning` object.
    OpenRouter,
    /// Any other compatible server: `max_tokens` (older servers reject the newer name).
    Compatible,
}

/// The Chat Completions adapter. A plain value: it holds no credential, client or model.
#[derive(Debug, Clone)]
pub struct OpenAi {
    flavor: Flavor,
    capabilities: Capabilities,
}

impl OpenAi {
    /// OpenAI itself.
    // Named for the flavour, beside `openrouter()` and `compatible()`.
    #[allow(clippy::self_named_constructors)]
    pub fn openai() -> Self {
        Self::with_flavor(Flavor::OpenAi)
    }

    /// OpenRouter.
    pub fn openrouter() -> Self {
        Self::with_flavor(Flavor::OpenRouter)
    }

    /// Any OpenAI-compatible server.
    pub fn compatible() -> Self {
        Self::with_flavor(Flavor::Compatible)
    }

    /// The adapter for `flavor`, declaring every capability.
    pub fn with_flavor(flavor: Flavor) -> Self {
        Self {
            flavor,
            capabilities: Capabilities::ALL,
        }
    }

    /// The same adapter declaring `capabilities` (for servers that lack some).
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Builds the HTTP request for a resolved call without sending it.
    pub fn encode(
        &self,
        call: &ResolvedCall<'_>,
        request: &Request,
        stream: bool,
    ) -> Result<WireRequest> {
        request::encode(self.flavor, call, request, stream)
    }

    /// Parses a non-streamed answer body.
    pub fn decode_response(&self, body: &[u8]) -> Result<Response> {
        response::decode(Protocol::name(self), body)
    }
}

impl Protocol for OpenAi {
    fn name(&self) -> &str {
        match self.flavor {
            Flavor::OpenAi => "openai",
            Flavor::OpenRouter => "openrouter",
            Flavor::Compatible => "openai-compatible",
        }
    }

    fn encode(
        &self,
        call: &ResolvedCall<'_>,
        request: &Request,
        stream: bool,
    ) -> Result<WireRequest> {
        OpenAi::encode(self, call, request, stream)
    }

    fn decode_response(&self, body: &[u8]) -> Result<Response> {
        OpenAi::decode_response(self, body)
    }

    fn decode_error(&self, status: u16, body: &[u8]) -> Error {
        error::decode(Protocol::name(self), Some(status), body)
    }

    fn stream_decoder(&self) -> Box<dyn StreamDecoder> {
        Box::new(stream::Decoder::new(Protocol::name(self)))
    }
}

crate::provider::http_provider!(OpenAi);
