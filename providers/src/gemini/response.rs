//! Decodes a `GenerateContentResponse` (whole, or one stream frame).

use serde::Deserialize;
use serde_json::Value;

use crate::error::Result;
use crate::ids::IdNormalizer;
use crate::kit::{arguments_object, ReasoningJoin};
use crate::response::{null_as_default, FinishReason, Response, ToolCall, Usage};
use crate::wire::parse_json;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct GenerateResponse {
    #[serde(default, deserialize_with = "null_as_default")]
    pub(super) candidates: Vec<Candidate>,
    #[serde(default)]
    pub(super) prompt_feedback: Option<PromptFeedback>,
    #[serde(default)]
    pub(super) usage_metadata: Option<UsageMetadata>,
    #[serde(default)]
    pub(super) model_version: Option<String>,
    #[serde(default)]
    pub(super) response_id: Option<String>,
    #[serde(default)]
    pub(super) error: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct Candidate {
    #[serde(default)]
    pub(super) content: Option<Content>,
    #[serde(default)]
    pub(super) finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
pub(super) struct Content {
    #[serde(default, deserialize_with = "null_as_default")]
    pub(super) parts: Vec<Part>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct Part {
    #[serde(default)]
    pub(super) text: Option<String>,
    #[serde(default)]
    pub(super) thought: bool,
    #[serde(default)]
    pub(super) function_call: Option<FunctionCall>,
    #[serde(default)]
    pub(super) thought_signature: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FunctionCall {
    #[serde(default)]
    pub(super) id: Option<String>,
    #[serde(default)]
    pub(super) name: String,
    #[serde(default)]
    pub(super) args: Value,
    /// Streamed arguments (see `partial.rs`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub(super) partial_args: Vec<super::partial::PartialArg>,
    /// More parts of this call follow.
    #[serde(default)]
    pub(super) will_continue: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct PromptFeedback {
    #[serde(default)]
    pub(super) block_reason: Option<String>,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub(super) struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: Option<u64>,
    #[serde(default)]
    candidates_token_count: Option<u64>,
    #[serde(default)]
    thoughts_token_count: Option<u64>,
    #[serde(default)]
    cached_content_token_count: Option<u64>,
}

impl UsageMetadata {
    /// B2: output counts thoughts too; `promptTokenCount` already includes cached content.
    /// Gemini leaves out a counter that is zero (proto3 JSON: an answer blocked for safety
    /// has no `candidatesTokenCount`), so with the object present an absent counter is 0.
    pub(super) fn normalise(&self) -> Usage {
        let thoughts = self.thoughts_token_count.unwrap_or(0);
        let output = self
            .candidates_token_count
            .unwrap_or(0)
            .saturating_add(thoughts);
        let mut usage = Usage::new(Some(self.prompt_token_count.unwrap_or(0)), Some(output));
        usage.reasoning_tokens = Some(thoughts);
        usage.cache_read_tokens = Some(self.cached_content_token_count.unwrap_or(0));
        usage
    }
}

/// B1 for `finishReason` (before the tool-call rule).
pub(super) fn finish_reason(raw: Option<&str>) -> FinishReason {
    match raw {
        Some("STOP") => FinishReason::Stop,
        Some("MAX_TOKENS") => FinishReason::Length,
        Some(
            "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY",
        ) => FinishReason::ContentFilter,
        Some("MALFORMED_FUNCTION_CALL" | "UNEXPECTED_TOOL_CALL") => FinishReason::Error,
        _ => FinishReason::Other,
    }
}

/// Mints the tool call for a `functionCall` part. Gemini usually gives no id; newer models
/// may, and it is kept as `provider_id`. The part's `thoughtSignature` travels with the call,
/// because thinking models reject a history whose function calls lost theirs.
pub(super) fn tool_call(
    provider: &str,
    ids: &mut IdNormalizer,
    call: FunctionCall,
    signature: Option<String>,
) -> Result<ToolCall> {
    Ok(ToolCall {
        id: ids.next(call.id.as_deref()),
        provider_id: call.id,
        arguments: arguments_object(provider, &call.name, call.args)?,
        name: call.name,
        signature,
    })
}

pub(super) fn decode(provider: &str, body: &[u8]) -> Result<Response> {
    let response: GenerateResponse = parse_json(provider, "the response", body)?;
    if let Some(err) = &response.error {
        return Err(super::error::from_object(provider, None, err));
    }
    let mut text = String::new();
    // Runs of thought parts are the reasoning pieces (B7): a non-thought part ends a run.
    let mut pieces: Vec<String> = Vec::new();
    let mut in_thought = false;
    let mut tool_calls = Vec::new();
    let mut ids = IdNormalizer::default();
    let candidate = response.candidates.into_iter().next().unwrap_or_default();
    for part in candidate.content.unwrap_or_default().parts {
        if !part.thought {
            in_thought = false;
        }
        if let Some(call) = part.function_call {
            tool_calls.push(tool_call(provider, &mut ids, call, part.thought_signature)?);
        } else if let Some(t) = part.text {
            if part.thought {
                match pieces.last_mut() {
                    Some(piece) if in_thought => piece.push_str(&t),
                    _ => pieces.push(t),
                }
                in_thought = true;
            } else {
                text.push_str(&t);
            }
        }
    }
    // A blocked prompt has no candidate; its block reason is the finish.
    let raw_finish = candidate
        .finish_reason
        .or_else(|| response.prompt_feedback.and_then(|f| f.block_reason));
    let finish = finish_reason(raw_finish.as_deref());
    Ok(Response {
        id: response.response_id.unwrap_or_default(),
        model: response.model_version.unwrap_or_default(),
        text,
        reasoning: ReasoningJoin::join(pieces.iter().map(String::as_str)),
        reasoning_blocks: Vec::new(),
        finish_reason: finish.with_tool_calls(!tool_calls.is_empty()),
        raw_finish_reason: raw_finish,
        tool_calls,
        usage: response
            .usage_metadata
            .map(|u| u.normalise())
            .unwrap_or_default(),
    })
}
