//! What a provider declares it can do. The conformance suite turns a missing capability into a
//! reasoned skip; a request that needs one fails with `unsupported` before anything is sent.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::request::Request;

/// The features a provider supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// `stream` works.
    pub streaming: bool,
    /// Tool definitions and tool calls.
    pub tools: bool,
    /// More than one tool call in a turn.
    pub parallel_tools: bool,
    /// `tool_choice` other than auto.
    pub tool_choice: bool,
    /// JSON-schema response format.
    pub json_schema: bool,
    /// Image parts in user messages.
    pub image_input: bool,
    /// Reasoning output and options.
    pub reasoning: bool,
    /// Usage reported at the end of a stream.
    pub usage_in_streams: bool,
}

impl Capabilities {
    /// Everything supported.
    pub const ALL: Self = Self {
        streaming: true,
        tools: true,
        parallel_tools: true,
        tool_choice: true,
        json_schema: true,
        image_input: true,
        reasoning: true,
        usage_in_streams: true,
    };

    /// Fails with `unsupported` when `request` needs something this provider lacks.
    pub fn check(&self, provider: &str, request: &Request, stream: bool) -> Result<()> {
        let lacking = [
            (stream && !self.streaming, "streaming"),
            (!request.tools.is_empty() && !self.tools, "tools"),
            (
                request.tool_choice.is_some() && !self.tool_choice,
                "tool choice",
            ),
            (
                request.response_format.is_some() && !self.json_schema,
                "JSON-schema output",
            ),
            (
                crate::context::has_image(request) && !self.image_input,
                "image input",
            ),
            (request.reasoning.is_some() && !self.reasoning, "reasoning"),
        ];
        match lacking.iter().find(|(missing, _)| *missing) {
            Some((_, what)) => Err(Error::unsupported(provider, what)),
            None => Ok(()),
        }
    }
}
