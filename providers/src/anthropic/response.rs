//! Decodes a Messages answer (and the pieces the stream decoder shares with it).

use serde::Deserialize;
use serde_json::Value;

use crate::error::Result;
use crate::ids::IdNormalizer;
use crate::kit::{arguments_object, ReasoningJoin};
use crate::response::{null_as_default, FinishReason, ReasoningBlock, Response, ToolCall, Usage};
use crate::wire::parse_json;

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    content: Vec<Block>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    usage: WireUsage,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Block {
    Text {
        #[serde(default)]
        text: String,
    },
    Thinking {
        #[serde(default)]
        thinking: String,
        #[serde(default)]
        signature: Option<String>,
    },
    RedactedThinking {
        #[serde(default)]
        data: Option<String>,
    },
    /// A client tool call. Server tools (`server_tool_use`, `mcp_tool_use`, …) and their
    /// results are other block types: the API ran them, the caller has nothing to do.
    ToolUse {
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        name: String,
        #[serde(default)]
        input: Value,
    },
    /// Server tool calls and results, citations-only blocks, container uploads, compaction,
    /// and whatever comes next: tolerated, never fatal (A3).
    #[serde(other)]
    Other,
}

/// `usage.output_tokens_details`.
#[derive(Deserialize, Default, Clone, Copy)]
pub(super) struct OutputDetails {
    #[serde(default)]
    thinking_tokens: Option<u64>,
}

/// `usage.cache_creation`: the cache writes split by how long the entry lives.
#[derive(Deserialize, Default, Clone, Copy)]
pub(super) struct CacheCreation {
    #[serde(default)]
    ephemeral_1h_input_tokens: Option<u64>,
}

/// Usage as sent; every field optional because `message_delta` carries only some.
#[derive(Deserialize, Default, Clone, Copy)]
pub(super) struct WireUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    cache_creation: Option<CacheCreation>,
    #[serde(default)]
    output_tokens_details: Option<OutputDetails>,
}

impl WireUsage {
    /// Fields present in `later` replace ours (`message_delta` is cumulative, A3).
    pub(super) fn merge(&mut self, later: &WireUsage) {
        self.input_tokens = later.input_tokens.or(self.input_tokens);
        self.output_tokens = later.output_tokens.or(self.output_tokens);
        self.cache_creation_input_tokens = later
            .cache_creation_input_tokens
            .or(self.cache_creation_input_tokens);
        self.cache_read_input_tokens = later
            .cache_read_input_tokens
            .or(self.cache_read_input_tokens);
        self.cache_creation = later.cache_creation.or(self.cache_creation);
        self.output_tokens_details = later.output_tokens_details.or(self.output_tokens_details);
    }

    /// B2: Anthropic's `input_tokens` excludes cache reads and writes; ours includes them.
    pub(super) fn normalise(&self) -> Usage {
        let input = self.input_tokens.map(|i| {
            i.saturating_add(self.cache_creation_input_tokens.unwrap_or(0))
                .saturating_add(self.cache_read_input_tokens.unwrap_or(0))
        });
        let mut usage = Usage::new(input, self.output_tokens);
        usage.cache_read_tokens = self.cache_read_input_tokens;
        usage.cache_write_tokens = self.cache_creation_input_tokens;
        usage.cache_write_1h_tokens = self
            .cache_creation
            .and_then(|c| c.ephemeral_1h_input_tokens)
            .map(|h| h.min(self.cache_creation_input_tokens.unwrap_or(0)));
        usage.reasoning_tokens = self.output_tokens_details.and_then(|d| d.thinking_tokens);
        usage
    }
}

/// B1 for `stop_reason`. Anthropic says when a turn ended to call tools (`tool_use`), so the
/// vendor's value stands even when client tool_use blocks are present: with programmatic tool
/// calling an `end_turn` message carries calls the code-execution container already answered.
/// Only a missing or unknown reason defers to "were there calls".
pub(super) fn finish_reason(raw: Option<&str>, has_tool_calls: bool) -> FinishReason {
    match raw {
        Some("end_turn" | "stop_sequence") => FinishReason::Stop,
        Some("max_tokens" | "model_context_window_exceeded") => FinishReason::Length,
        Some("tool_use") => FinishReason::ToolCalls,
        Some("refusal") => FinishReason::ContentFilter,
        Some("pause_turn") => FinishReason::Other,
        _ => FinishReason::Other.with_tool_calls(has_tool_calls),
    }
}

pub(super) fn decode(provider: &str, body: &[u8]) -> Result<Response> {
    let message: Message = parse_json(provider, "the message", body)?;
    let mut text = String::new();
    let mut pieces: Vec<String> = Vec::new();
    let mut reasoning_blocks = Vec::new();
    let mut tool_calls = Vec::new();
    let mut ids = IdNormalizer::default();
    for block in message.content {
        match block {
            Block::Text { text: t } => text.push_str(&t),
            Block::Thinking {
                thinking,
                signature,
            } => {
                pieces.push(thinking.clone());
                if signature.is_some() {
                    reasoning_blocks.push(ReasoningBlock {
                        text: thinking,
                        signature,
                        ..ReasoningBlock::default()
                    });
                }
            }
            Block::RedactedThinking { data } => reasoning_blocks.push(ReasoningBlock {
                redacted: Some(data.unwrap_or_default()),
                ..ReasoningBlock::default()
            }),
            Block::ToolUse { id, name, input } => tool_calls.push(ToolCall {
                id: ids.next(id.as_deref()),
                provider_id: id,
                arguments: arguments_object(provider, &name, input)?,
                name,
                signature: None,
            }),
            Block::Other => {}
        }
    }
    Ok(Response {
        id: message.id.unwrap_or_default(),
        model: message.model.unwrap_or_default(),
        text,
        // Each thinking block is a piece (B7).
        reasoning: ReasoningJoin::join(pieces.iter().map(String::as_str)),
        reasoning_blocks,
        finish_reason: finish_reason(message.stop_reason.as_deref(), !tool_calls.is_empty()),
        raw_finish_reason: message.stop_reason,
        tool_calls,
        usage: message.usage.normalise(),
    })
}
