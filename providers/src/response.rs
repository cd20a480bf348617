//! What a call returns, the same shape from every provider (contract B1–B3).

use serde::{Deserialize, Serialize};

pub use crate::request::{ReasoningBlock, ToolCall};

/// A finished, non-streamed answer (or an assembled stream).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Response {
    /// The vendor's response id (empty when the vendor gives none).
    pub id: String,
    /// The model that answered, as the vendor names it.
    pub model: String,
    /// The answer text (reasoning excluded).
    pub text: String,
    /// Reasoning ("thinking") text, when the vendor returned any.
    pub reasoning: Option<String>,
    /// Reasoning blocks with the replay data the vendor needs on later turns (see
    /// [`Message::from_response`](crate::Message::from_response)); empty for vendors without any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasoning_blocks: Vec<ReasoningBlock>,
    /// Tools the model called, in order.
    pub tool_calls: Vec<ToolCall>,
    /// Why generation ended, normalised.
    pub finish_reason: FinishReason,
    /// The vendor's own finish value.
    pub raw_finish_reason: Option<String>,
    /// Token counts (contract B2).
    pub usage: Usage,
}

impl Response {
    /// A complete text answer that ended naturally: no id, no reasoning, no tool calls, finish
    /// `stop`. What a provider that answers in text alone returns (a cache, a stand-in, a test
    /// double); vendor adapters build their responses field by field from the wire.
    pub fn from_text(model: impl Into<String>, text: impl Into<String>, usage: Usage) -> Self {
        Self {
            id: String::new(),
            model: model.into(),
            text: text.into(),
            reasoning: None,
            reasoning_blocks: Vec::new(),
            tool_calls: Vec::new(),
            finish_reason: FinishReason::Stop,
            raw_finish_reason: None,
            usage,
        }
    }
}

/// Why generation ended (contract B1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// A natural end or a stop sequence.
    Stop,
    /// The output token limit.
    Length,
    /// The turn ended to call tools.
    ToolCalls,
    /// A safety or policy filter.
    ContentFilter,
    /// The vendor reported a generation error (Gemini `MALFORMED_FUNCTION_CALL`).
    Error,
    /// Anything else, including values this version does not know.
    Other,
}

impl FinishReason {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
            Self::ToolCalls => "tool_calls",
            Self::ContentFilter => "content_filter",
            Self::Error => "error",
            Self::Other => "other",
        }
    }
}

/// Token counts. `None` means the vendor did not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Usage {
    /// Every prompt token, cached ones included.
    pub input_tokens: Option<u64>,
    /// Every generated token, reasoning included.
    pub output_tokens: Option<u64>,
    /// `input_tokens + output_tokens`.
    pub total_tokens: Option<u64>,
    /// Prompt tokens read from the vendor's cache.
    pub cache_read_tokens: Option<u64>,
    /// Prompt tokens written to the vendor's cache.
    pub cache_write_tokens: Option<u64>,
    /// Of `cache_write_tokens`, those written to a one-hour cache, which costs more (Anthropic's
    /// `cache_creation.ephemeral_1h_input_tokens`); `None` when the vendor does not split them.
    #[serde(default)]
    pub cache_write_1h_tokens: Option<u64>,
    /// Output tokens spent on reasoning.
    pub reasoning_tokens: Option<u64>,
}

impl Usage {
    /// Usage from input and output counts, with the total derived (B2). Counts near `u64::MAX`
    /// (no vendor sends them, a broken proxy might) saturate instead of overflowing.
    pub fn new(input: Option<u64>, output: Option<u64>) -> Self {
        Self {
            input_tokens: input,
            output_tokens: output,
            total_tokens: match (input, output) {
                (Some(i), Some(o)) => Some(i.saturating_add(o)),
                _ => None,
            },
            ..Self::default()
        }
    }
}

impl FinishReason {
    /// B1: a turn that ended to call tools is `tool_calls`, whatever the vendor said
    /// (Gemini says `STOP`; some compatible servers say `stop`).
    pub fn with_tool_calls(self, has_tool_calls: bool) -> Self {
        match self {
            Self::Stop | Self::Other if has_tool_calls => Self::ToolCalls,
            other => other,
        }
    }
}

/// Deserialises `null` as the type's default: compatible servers send `"tool_calls": null`,
/// `"choices": null` and the like where OpenAI omits the field.
#[cfg_attr(
    not(any(feature = "openai", feature = "anthropic", feature = "gemini")),
    allow(dead_code)
)]
pub(crate) fn null_as_default<'de, D, T>(de: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(de)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found from outside: `"prompt_tokens": 18446744073709551615` overflowed the total (a panic
    /// in debug builds, a wrong total in release).
    #[test]
    fn absurd_token_counts_saturate() {
        let u = Usage::new(Some(u64::MAX), Some(7));
        assert_eq!(u.total_tokens, Some(u64::MAX));
        assert_eq!(Usage::new(Some(2), Some(3)).total_tokens, Some(5));
        assert_eq!(Usage::new(None, Some(3)).total_tokens, None);
    }
}
