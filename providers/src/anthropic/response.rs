//! Decodes a Messages answer (and the pieces the stream decoder shares with it).

use serde::Deserialize;
use serde_json::Value;

use super::NAME;
use crate::error::Result;
use crate::ids::IdNormalizer;
use crate::response::{FinishReason, Response, ToolCall, Usage};
use crate::wire::parse_json;

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    content: Vec<Block>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
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
    },
    ToolUse {
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        name: String,
        #[serde(default)]
        input: Value,
    },
    #[serde(other)]
    Other,
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
    }

    /// B2: Anthropic's `input_tokens` excludes cache reads and writes; ours includes them.
    pub(super) fn normalise(&self) -> Usage {
        let input = self.input_tokens.map(|i| {
            i + self.cache_creation_input_tokens.unwrap_or(0)
                + self.cache_read_input_tokens.unwrap_or(0)
        });
        let mut usage = Usage::new(input, self.output_tokens);
        usage.cache_read_tokens = self.cache_read_input_tokens;
        usage.cache_write_tokens = self.cache_creation_input_tokens;
        usage
    }
}

/// B1 for `stop_reason`.
pub(super) fn finish_reason(raw: Option<&str>) -> FinishReason {
    match raw {
        Some("end_turn" | "stop_sequence") => FinishReason::Stop,
        Some("max_tokens" | "model_context_window_exceeded") => FinishReason::Length,
        Some("tool_use") => FinishReason::ToolCalls,
        Some("refusal") => FinishReason::ContentFilter,
        _ => FinishReason::Other,
    }
}

/// A tool_use `input` as arguments: an object, or `{}` when absent.
pub(super) fn input_object(input: Value) -> Result<Value> {
    match input {
        Value::Null => Ok(Value::Object(Default::default())),
        v @ Value::Object(_) => Ok(v),
        other => Err(crate::Error::malformed(
            NAME,
            format!("tool_use input is not a JSON object: {other}"),
        )),
    }
}

pub(super) fn decode(body: &[u8]) -> Result<Response> {
    let message: Message = parse_json(NAME, "the message", body)?;
    let mut text = String::new();
    let mut reasoning: Option<String> = None;
    let mut tool_calls = Vec::new();
    let mut ids = IdNormalizer::default();
    for block in message.content {
        match block {
            Block::Text { text: t } => text.push_str(&t),
            Block::Thinking { thinking } => reasoning
                .get_or_insert_with(String::new)
                .push_str(&thinking),
            Block::ToolUse { id, name, input } => tool_calls.push(ToolCall {
                id: ids.next(id.as_deref()),
                provider_id: id,
                name,
                arguments: input_object(input)?,
                signature: None,
            }),
            Block::Other => {}
        }
    }
    Ok(Response {
        id: message.id.unwrap_or_default(),
        model: message.model.unwrap_or_default(),
        text,
        reasoning,
        finish_reason: finish_reason(message.stop_reason.as_deref())
            .with_tool_calls(!tool_calls.is_empty()),
        raw_finish_reason: message.stop_reason,
        tool_calls,
        usage: message.usage.normalise(),
    })
}
