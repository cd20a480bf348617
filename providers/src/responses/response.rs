//! Decodes a Responses API response object (a whole answer, or the `response` of a terminal
//! stream event) and the pieces the stream decoder shares with it.

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::ids::IdNormalizer;
use crate::kit::{parse_arguments, ReasoningJoin};
use crate::response::{null_as_default, FinishReason, ReasoningBlock, Response, ToolCall, Usage};
use crate::wire::parse_json;

/// The response object.
#[derive(Deserialize, Default)]
pub(super) struct WireResponse {
    #[serde(default)]
    pub(super) id: Option<String>,
    #[serde(default)]
    pub(super) model: Option<String>,
    #[serde(default)]
    pub(super) status: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub(super) output: Vec<Item>,
    #[serde(default)]
    pub(super) usage: Option<WireUsage>,
    #[serde(default)]
    pub(super) incomplete_details: Option<IncompleteDetails>,
    #[serde(default)]
    pub(super) error: Option<Value>,
}

#[derive(Deserialize, Default, Clone)]
pub(super) struct IncompleteDetails {
    #[serde(default)]
    pub(super) reason: Option<String>,
}

/// One output item. Only messages, function calls and reasoning concern the caller; hosted tool
/// items (web search, file search, code interpreter, image generation, MCP, …) are tolerated and
/// skipped, never fatal (A2).
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Item {
    Message {
        #[serde(default)]
        id: Option<String>,
        #[serde(default, deserialize_with = "null_as_default")]
        content: Vec<Part>,
    },
    FunctionCall {
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        call_id: Option<String>,
        #[serde(default)]
        name: String,
        #[serde(default)]
        arguments: Option<String>,
    },
    Reasoning {
        #[serde(default)]
        id: Option<String>,
        #[serde(default, deserialize_with = "null_as_default")]
        summary: Vec<Part>,
        /// Raw reasoning text (open-weight models behind compatible servers).
        #[serde(default, deserialize_with = "null_as_default")]
        content: Vec<Part>,
        #[serde(default)]
        encrypted_content: Option<String>,
    },
    #[serde(other)]
    Other,
}

impl Item {
    /// The item's id, when it has one.
    pub(super) fn id(&self) -> Option<&str> {
        match self {
            Item::Message { id, .. }
            | Item::FunctionCall { id, .. }
            | Item::Reasoning { id, .. } => id.as_deref(),
            Item::Other => None,
        }
    }
}

/// A content part of a message (`output_text`, `refusal`) or of a reasoning item
/// (`summary_text`, `reasoning_text`).
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Part {
    OutputText {
        #[serde(default)]
        text: String,
    },
    Refusal {
        #[serde(default)]
        refusal: String,
    },
    SummaryText {
        #[serde(default)]
        text: String,
    },
    ReasoningText {
        #[serde(default)]
        text: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize, Default, Clone, Copy)]
pub(super) struct WireUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    input_tokens_details: Option<InputDetails>,
    #[serde(default)]
    output_tokens_details: Option<OutputDetails>,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct InputDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct OutputDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

impl WireUsage {
    /// B2: `input_tokens` includes cached ones, `output_tokens` reasoning ones.
    pub(super) fn normalise(&self) -> Usage {
        let mut usage = Usage::new(self.input_tokens, self.output_tokens);
        usage.cache_read_tokens = self.input_tokens_details.and_then(|d| d.cached_tokens);
        usage.reasoning_tokens = self.output_tokens_details.and_then(|d| d.reasoning_tokens);
        usage
    }
}

/// B1 for a finished response: `completed` is a stop (or `tool_calls`), `incomplete` is
/// `length` or `content_filter` by its reason. Returns the finish and the raw value kept beside
/// it.
pub(super) fn finish(
    status: Option<&str>,
    incomplete: Option<&IncompleteDetails>,
    has_calls: bool,
    refused: bool,
) -> (FinishReason, Option<String>) {
    let reason = incomplete.and_then(|d| d.reason.clone());
    let finish = match (status, reason.as_deref()) {
        (_, Some("max_output_tokens")) => FinishReason::Length,
        (_, Some("content_filter")) => FinishReason::ContentFilter,
        _ if refused => FinishReason::ContentFilter,
        (Some("completed") | None, _) => FinishReason::Stop.with_tool_calls(has_calls),
        _ => FinishReason::Other.with_tool_calls(has_calls),
    };
    (finish, reason.or_else(|| status.map(str::to_owned)))
}

/// The error a `failed` response (or an `error` event's object) stands for.
pub(super) fn failure(provider: &str, error: Option<&Value>) -> Error {
    match error {
        Some(err) if err.is_object() => crate::openai::error::from_object(provider, None, err),
        _ => Error::new(
            crate::ErrorKind::ServerError,
            provider,
            "the response failed without saying why",
        ),
    }
}

/// A function-call item as a tool call.
pub(super) fn tool_call(
    provider: &str,
    ids: &mut IdNormalizer,
    call_id: Option<String>,
    name: String,
    arguments: &str,
) -> Result<ToolCall> {
    let call_id = call_id.filter(|id| !id.is_empty());
    Ok(ToolCall {
        id: ids.next(call_id.as_deref()),
        provider_id: call_id,
        arguments: parse_arguments(provider, &name, arguments)?,
        name,
        signature: None,
    })
}

pub(super) fn decode(provider: &str, body: &[u8]) -> Result<Response> {
    let response: WireResponse = parse_json(provider, "the response", body)?;
    if response.status.as_deref() == Some("failed") || response.error.is_some() {
        return Err(failure(provider, response.error.as_ref()));
    }
    let mut text = String::new();
    let mut refused = false;
    let mut pieces: Vec<String> = Vec::new();
    let mut reasoning_blocks = Vec::new();
    let mut tool_calls = Vec::new();
    let mut ids = IdNormalizer::default();
    for item in response.output {
        match item {
            Item::Message { content, .. } => {
                for part in content {
                    match part {
                        Part::OutputText { text: t } => text.push_str(&t),
                        // A refusal is what the model said, with a content_filter finish.
                        Part::Refusal { refusal } => {
                            refused = true;
                            text.push_str(&refusal);
                        }
                        _ => {}
                    }
                }
            }
            Item::FunctionCall {
                call_id,
                name,
                arguments,
                ..
            } => tool_calls.push(tool_call(
                provider,
                &mut ids,
                call_id,
                name,
                arguments.as_deref().unwrap_or_default(),
            )?),
            Item::Reasoning {
                id,
                summary,
                content,
                encrypted_content,
            } => {
                pieces.extend(reasoning_parts(&summary, &content).map(str::to_owned));
                if encrypted_content.is_some() {
                    reasoning_blocks.push(ReasoningBlock {
                        text: reasoning_text(&summary, &content),
                        encrypted_content,
                        id,
                        ..ReasoningBlock::default()
                    });
                }
            }
            Item::Other => {}
        }
    }
    let (finish_reason, raw_finish_reason) = finish(
        response.status.as_deref(),
        response.incomplete_details.as_ref(),
        !tool_calls.is_empty(),
        refused,
    );
    Ok(Response {
        id: response.id.unwrap_or_default(),
        model: response.model.unwrap_or_default(),
        text,
        reasoning: ReasoningJoin::join(pieces.iter().map(String::as_str)),
        reasoning_blocks,
        tool_calls,
        finish_reason,
        raw_finish_reason,
        usage: response.usage.unwrap_or_default().normalise(),
    })
}

/// A reasoning item's parts, each a reasoning piece (B7): its summary parts, then its raw
/// reasoning parts.
pub(super) fn reasoning_parts<'a>(
    summary: &'a [Part],
    content: &'a [Part],
) -> impl Iterator<Item = &'a str> {
    summary.iter().chain(content).filter_map(|p| match p {
        Part::SummaryText { text } | Part::ReasoningText { text } => Some(text.as_str()),
        _ => None,
    })
}

/// A reasoning item's readable text: its pieces joined by the B7 rule.
pub(super) fn reasoning_text(summary: &[Part], content: &[Part]) -> String {
    ReasoningJoin::join(reasoning_parts(summary, content)).unwrap_or_default()
}
