//! What a provider declares it can do. The conformance suite turns a missing capability into a
//! reasoned skip; a request that needs one fails with `unsupported` before anything is sent.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::request::Request;

/// The features a provider supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Capabilities {
    /// `stream` works (CTR-002, CTR-003 and every stream half of a check).
    pub streaming: bool,
    /// Tool definitions are sent and tool calls come back (TOOL-*).
    pub tools: bool,
    /// More than one tool call can come back in one turn, each assembled by its index (TOOL-002).
    pub parallel_tools: bool,
    /// `tool_choice` other than auto is sent (TOOL-005).
    pub tool_choice: bool,
    /// A JSON-schema response format is sent (JSON-001).
    pub json_schema: bool,
    /// Image parts in user messages are sent (MM-001).
    pub image_input: bool,
    /// Reasoning options in: `Request::reasoning` (effort, budget) is sent the vendor's way.
    /// Without it such a request fails with `unsupported` before anything is sent.
    pub reasoning_options: bool,
    /// Reasoning text out: the vendor's reasoning comes back as `reasoning` (deltas in a
    /// stream), never in the answer text, its tokens counted (RSN-001). A provider can return
    /// reasoning a model produces on its own without accepting options, or the reverse.
    pub reasoning_output: bool,
    /// Usage is reported at the end of a stream (CTR-002, USE-001).
    pub usage_in_streams: bool,
    /// A conversation ending in an assistant turn is continued from that text, not answered
    /// anew (Anthropic's prefill). The dispatcher resumes a cut stream this way (DSP-008).
    /// Absent from older plugin handshakes: `false`.
    #[serde(default)]
    pub assistant_prefill: bool,
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
        reasoning_options: true,
        reasoning_output: true,
        usage_in_streams: true,
        assistant_prefill: true,
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
            (
                request.reasoning.is_some() && !self.reasoning_options,
                "reasoning options",
            ),
        ];
        match lacking.iter().find(|(missing, _)| *missing) {
            Some((_, what)) => Err(Error::unsupported(provider, what)),
            None => Ok(()),
        }
    }
}
