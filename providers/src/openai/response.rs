//! Decodes a Chat Completions answer (and the pieces the stream decoder shares with it).

use serde::Deserialize;
use serde_json::Value;

use crate::error::Result;
use crate::ids::IdNormalizer;
use crate::kit::parse_arguments;
use crate::response::{null_as_default, FinishReason, Response, ToolCall, Usage};
use crate::wire::parse_json;

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    message: Option<ChoiceMessage>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct ChoiceMessage {
    #[serde(default)]
    content: Option<Content>,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    reasoning: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    tool_calls: Vec<WireToolCall>,
    #[serde(default)]
    refusal: Option<String>,
    /// Replay data (`super::replay`).
    #[serde(default, deserialize_with = "null_as_default")]
    reasoning_details: Vec<Value>,
}

/// `content` as a string or, on some compatible servers, a list of parts: `text` parts are
/// text, Mistral's `thinking` parts (`{"type":"thinking","thinking":[{"type":"text",…}]}`) are
/// reasoning, anything else is skipped.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
    Other(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
pub(super) struct ContentPart {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    thinking: Option<Thinking>,
}

/// A thinking part's content: a list of text parts, or (some servers) a plain string.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Thinking {
    Text(String),
    Parts(Vec<ContentPart>),
    Other(serde::de::IgnoredAny),
}

impl Thinking {
    fn text(&self) -> String {
        match self {
            Self::Text(t) => t.clone(),
            Self::Parts(parts) => parts.iter().filter_map(|p| p.text.as_deref()).collect(),
            Self::Other(_) => String::new(),
        }
    }
}

impl Content {
    /// The answer text: the string, or the text of the `text` parts.
    pub(super) fn text(&self) -> String {
        match self {
            Self::Text(t) => t.clone(),
            Self::Parts(parts) => parts
                .iter()
                .filter(|p| matches!(p.kind.as_deref(), None | Some("text")))
                .filter_map(|p| p.text.as_deref())
                .collect(),
            Self::Other(_) => String::new(),
        }
    }

    /// The reasoning carried in `thinking` parts, if any.
    pub(super) fn reasoning(&self) -> Option<String> {
        let Self::Parts(parts) = self else {
            return None;
        };
        let text: String = parts
            .iter()
            .filter(|p| p.kind.as_deref() == Some("thinking"))
            .filter_map(|p| p.thinking.as_ref().map(Thinking::text))
            .collect();
        (!text.is_empty()).then_some(text)
    }
}

#[derive(Deserialize)]
struct WireToolCall {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<WireFunction>,
    /// A Gemini thought signature (`super::replay`).
    #[serde(default)]
    extra_content: Option<Value>,
}

#[derive(Deserialize)]
pub(super) struct WireFunction {
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) arguments: Option<String>,
}

#[derive(Deserialize, Default)]
pub(super) struct WireUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
    #[serde(default)]
    completion_tokens_details: Option<CompletionDetails>,
}

#[derive(Deserialize, Default)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

#[derive(Deserialize, Default)]
struct CompletionDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

impl WireUsage {
    /// B2: `prompt_tokens` already includes cached tokens, `completion_tokens` reasoning ones.
    pub(super) fn normalise(&self) -> Usage {
        let mut usage = Usage::new(self.prompt_tokens, self.completion_tokens);
        usage.cache_read_tokens = self
            .prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens);
        usage.reasoning_tokens = self
            .completion_tokens_details
            .as_ref()
            .and_then(|d| d.reasoning_tokens);
        usage
    }
}

/// B1 for Chat Completions values.
pub(super) fn finish_reason(raw: Option<&str>) -> FinishReason {
    match raw {
        Some("stop") => FinishReason::Stop,
        Some("length") => FinishReason::Length,
        Some("tool_calls" | "function_call") => FinishReason::ToolCalls,
        Some("content_filter") => FinishReason::ContentFilter,
        _ => FinishReason::Other,
    }
}

pub(super) fn decode(provider: &str, body: &[u8]) -> Result<Response> {
    let completion: Completion = parse_json(provider, "the completion", body)?;
    if let Some(err) = &completion.error {
        // OpenRouter can answer 200 with an error object.
        return Err(super::error::from_object(provider, None, err));
    }
    let choice = completion.choices.into_iter().next();
    let raw_finish = choice.as_ref().and_then(|c| c.finish_reason.clone());
    let message = choice.and_then(|c| c.message).unwrap_or_default();
    let mut ids = IdNormalizer::default();
    let tool_calls = message
        .tool_calls
        .iter()
        .map(|tc| {
            let function = tc.function.as_ref();
            let name = function.and_then(|f| f.name.clone()).unwrap_or_default();
            let args = function
                .and_then(|f| f.arguments.as_deref())
                .unwrap_or_default();
            let vendor_id = tc.id.clone().filter(|id| !id.is_empty());
            Ok(ToolCall {
                id: ids.next(vendor_id.as_deref()),
                provider_id: vendor_id,
                arguments: parse_arguments(provider, &name, args)?,
                name,
                signature: super::replay::thought_signature(tc.extra_content.as_ref()),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let reasoning = message
        .reasoning_content
        .or(message.reasoning)
        .or_else(|| message.content.as_ref().and_then(Content::reasoning))
        .filter(|r| !r.is_empty());
    let text = message.content.map(|c| c.text()).unwrap_or_default();
    let refusal = message.refusal.filter(|r| !r.is_empty());
    let mut finish = finish_reason(raw_finish.as_deref()).with_tool_calls(!tool_calls.is_empty());
    if refusal.is_some() {
        finish = FinishReason::ContentFilter;
    }
    Ok(Response {
        id: completion.id.unwrap_or_default(),
        model: completion.model.unwrap_or_default(),
        // A refusal replaces the content: it is what the model said.
        text: refusal.unwrap_or(text),
        reasoning,
        reasoning_blocks: super::replay::blocks(&message.reasoning_details),
        finish_reason: finish,
        raw_finish_reason: raw_finish,
        tool_calls,
        usage: completion.usage.unwrap_or_default().normalise(),
    })
}
