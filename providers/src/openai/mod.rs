//! OpenAI Chat Completions (contract A1): the wire format of OpenAI, OpenRouter, Azure OpenAI
//! and every OpenAI-compatible server. The dialect only changes a few body fields.

pub(crate) mod error;
pub(crate) mod replay;
mod request;
mod response;
pub mod serve;
mod stream;

use crate::context::ResolvedCall;
use crate::error::{Error, Result};
use crate::request::Request;
use crate::response::Response;
use crate::wire::{Encoded, StreamDecoder, WireFormat};

/// The body dialect of the server on the other end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// api.openai.com and Azure: `max_completion_tokens`, `reasoning_effort`.
    OpenAi,
    /// OpenRouter: `max_tokens`, a `reasoning` object.
    OpenRouter,
    /// Any other compatible server: `max_tokens` (older servers reject the newer name).
    Compatible,
}

/// The Chat Completions wire format (`POST …/chat/completions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatCompletions {
    dialect: Dialect,
}

impl ChatCompletions {
    /// The format in `dialect`.
    pub fn new(dialect: Dialect) -> Self {
        Self { dialect }
    }

    /// OpenAI's own dialect.
    pub fn openai() -> Self {
        Self::new(Dialect::OpenAi)
    }

    /// OpenRouter's dialect.
    pub fn openrouter() -> Self {
        Self::new(Dialect::OpenRouter)
    }

    /// The dialect of other compatible servers.
    pub fn compatible() -> Self {
        Self::new(Dialect::Compatible)
    }
}

impl WireFormat for ChatCompletions {
    fn id(&self) -> &'static str {
        "chat-completions"
    }

    fn encode(&self, call: &ResolvedCall<'_>, request: &Request, stream: bool) -> Result<Encoded> {
        request::encode(self.dialect, call, request, stream)
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
