//! A wire format: how a request becomes a body, and how answers, streams and error bodies become
//! normalised values. It knows nothing of addresses or credentials (those are the endpoint's and
//! the auth step's), so one format serves every provider that speaks it: Chat Completions for
//! OpenAI, OpenRouter, Azure and compatible servers; Gemini's format for the Gemini API and Vertex.

use crate::context::ResolvedCall;
use crate::error::{Error, Result};
use crate::event::StreamEvent;
use crate::request::Request;
use crate::response::Response;

/// What a format asks the endpoint for: a path under the API root and its query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// The path under the API root, without a leading `/`: `chat/completions`, `responses`,
    /// `messages`, `models/gemini-2.5-flash:streamGenerateContent`.
    pub path: String,
    /// Query parameters the operation itself needs (`alt=sse`).
    pub query: Vec<(&'static str, &'static str)>,
}

impl Operation {
    /// An operation at `path` with no query.
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            query: Vec::new(),
        }
    }

    /// The same operation with a query parameter.
    pub fn with_query(mut self, name: &'static str, value: &'static str) -> Self {
        self.query.push((name, value));
        self
    }
}

/// A request body ready for an endpoint.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// Where it goes.
    pub operation: Operation,
    /// Headers the format itself requires (Anthropic's `anthropic-version`).
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

/// One wire format. Implement it to teach concord a new vendor's dialect; compose it with an
/// [`Endpoint`](super::Endpoint) and an [`Auth`](super::Auth) in an
/// [`HttpProvider`](crate::HttpProvider) to get a [`Provider`](crate::Provider).
///
/// Every method that builds an error takes the provider's name, so errors name the provider the
/// caller configured (`azure`, `vertex`), not the format.
pub trait WireFormat: Send + Sync + std::fmt::Debug {
    /// The format's name in docs and diagnostics (`chat-completions`).
    fn id(&self) -> &'static str;

    /// Whether the vendor continues a conversation's final assistant turn instead of answering
    /// it anew (Anthropic's prefill): what `Capabilities::assistant_prefill` can claim.
    fn continues_assistant_turn(&self) -> bool {
        false
    }

    /// The body and operation for a resolved call. Nothing is sent.
    fn encode(&self, call: &ResolvedCall<'_>, request: &Request, stream: bool) -> Result<Encoded>;

    /// Parses a 2xx body.
    fn decode_response(&self, provider: &str, body: &[u8]) -> Result<Response>;

    /// Turns a non-2xx answer into an error: kind, message, and any retry delay the body gives.
    fn decode_error(&self, provider: &str, status: u16, body: &[u8]) -> Error;

    /// A fresh decoder for one stream.
    fn stream_decoder(&self, provider: &str) -> Box<dyn StreamDecoder>;
}

/// Turns one stream's SSE events into normalised events.
pub trait StreamDecoder: Send {
    /// Handles one SSE event (`event` is the `event:` name, empty when absent).
    fn on_event(&mut self, event: &str, data: &str, out: &mut Vec<StreamEvent>) -> Result<()>;
    /// Whether the vendor's terminal marker has been seen (no more input is read after it).
    fn is_done(&self) -> bool;
    /// The byte stream ended: emit the final events, or fail with `stream_interrupted` when the
    /// terminal marker never came.
    fn on_end(&mut self, out: &mut Vec<StreamEvent>) -> Result<()>;
}
