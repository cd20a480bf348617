//! The `auto` scenario: the mock answers each request the way a vendor would answer *that*
//! request, by picking the protocol's scenario that fits what it asks for. Live-mode checks
//! (and any client pointed at `concord mock`) can then send ordinary requests — force a tool,
//! ask for JSON, send tool results — and get a fitting answer, as from a remote server.
//!
//! The answers come from the same vendor-shaped fixtures as every other scenario; only the
//! choice is made here. The fixtures' tools are `get_weather(location, unit)`,
//! `get_time(timezone)` and `get_time_now()`; a request whose tools the fixtures cannot call is
//! answered with text, as a model that chose not to call would.

use serde_json::Value;

use crate::probe::{self, ToolMode};
use crate::scenario::Protocol;

/// The scenario name that picks per request.
pub const AUTO: &str = "auto";

/// The context window the mock enforces in `auto`, in tokens, estimated as body bytes / 4.
pub const CONTEXT_TOKENS: usize = 200_000;

/// What to serve: a scenario (or `error_<row>`), and the text for `{{prompt}}`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Pick {
    pub scenario: &'static str,
    pub prompt: Option<String>,
}

impl Pick {
    fn of(scenario: &'static str) -> Self {
        Self {
            scenario,
            prompt: None,
        }
    }
}

/// The one instruction the mock follows, so a live check can tell that the system prompt was
/// read from where the vendor reads it: "… with only the word W …" makes the answer contain W.
fn instructed_word(system: &str) -> Option<String> {
    let lower = system.to_ascii_lowercase();
    let at = lower.find("only the word ")? + "only the word ".len();
    let word: String = system[at..]
        .trim_start_matches(['"', '\'', '`'])
        .chars()
        .take_while(|c| c.is_alphanumeric())
        .collect();
    (!word.is_empty()).then_some(word)
}

/// The scenario a vendor's answer to `body` looks like.
pub(crate) fn pick(p: Protocol, body: &Value, body_bytes: usize) -> Pick {
    if body_bytes / 4 > CONTEXT_TOKENS {
        // The vendor's own row: Anthropic says "prompt is too long".
        return Pick::of(match p {
            Protocol::Anthropic => "error_prompt_too_long",
            _ => "error_context_length",
        });
    }
    if probe::ends_with_tool_result(p, body) {
        return Pick::of("tool_result");
    }
    let tools = probe::tool_names(p, body);
    let declared = |name: &str| tools.iter().any(|t| t == name);
    if !tools.is_empty() {
        let call = match probe::tool_mode(p, body) {
            ToolMode::None => None,
            ToolMode::Named(name) => match name.as_str() {
                "get_weather" => Some("tool_call"),
                "get_time_now" => Some("tool_no_args"),
                _ => None,
            },
            ToolMode::Auto | ToolMode::Required => {
                if declared("get_weather")
                    && declared("get_time")
                    && probe::parallel_tools_allowed(p, body)
                {
                    Some("parallel_tool_calls")
                } else if declared("get_weather") {
                    Some("tool_call")
                } else if declared("get_time_now") {
                    Some("tool_no_args")
                } else {
                    None
                }
            }
        };
        if let Some(scenario) = call {
            return Pick::of(scenario);
        }
    }
    if probe::asks_json_schema(p, body) {
        return Pick::of("json_schema");
    }
    if probe::asks_reasoning(p, body) {
        return Pick::of("reasoning");
    }
    if let Some(word) = probe::system_text(p, body)
        .as_deref()
        .and_then(instructed_word)
    {
        return Pick {
            scenario: "echo",
            prompt: Some(word),
        };
    }
    Pick::of("text")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn requests_pick_the_answer_a_vendor_would_give() {
        let weather =
            json!([{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]);
        let cases = [
            (
                Protocol::Openai,
                json!({"messages": [{"role": "user", "content": "hi"}]}),
                "text",
            ),
            (
                Protocol::Openai,
                json!({"messages": [{"role": "user", "content": "hi"}], "tools": weather, "tool_choice": "required"}),
                "tool_call",
            ),
            (
                Protocol::Openai,
                json!({"messages": [{"role": "user", "content": "hi"}], "tools": weather, "tool_choice": "none"}),
                "text",
            ),
            (
                Protocol::Openai,
                json!({"messages": [{"role": "tool", "tool_call_id": "a", "content": "22"}]}),
                "tool_result",
            ),
            (
                Protocol::Anthropic,
                json!({"messages": [{"role": "user", "content": "hi"}], "tools": [{"name": "get_weather"}, {"name": "get_time"}], "tool_choice": {"type": "any"}}),
                "parallel_tool_calls",
            ),
            (
                Protocol::Anthropic,
                json!({"messages": [{"role": "user", "content": "hi"}], "tools": [{"name": "get_weather"}, {"name": "get_time"}], "tool_choice": {"type": "any", "disable_parallel_tool_use": true}}),
                "tool_call",
            ),
            (
                Protocol::Gemini,
                json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "tools": [{"functionDeclarations": [{"name": "get_time_now"}]}], "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_time_now"]}}}),
                "tool_no_args",
            ),
            (
                Protocol::Gemini,
                json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"responseJsonSchema": {}}}),
                "json_schema",
            ),
            (
                Protocol::OpenaiResponses,
                json!({"input": "hi", "reasoning": {"effort": "low"}}),
                "reasoning",
            ),
        ];
        for (p, body, want) in cases {
            assert_eq!(pick(p, &body, 100).scenario, want, "{p:?} {body}");
        }
        let big = json!({"messages": []});
        assert_eq!(
            pick(Protocol::Openai, &big, CONTEXT_TOKENS * 4 + 4).scenario,
            "error_context_length"
        );
    }

    #[test]
    fn the_system_prompt_is_obeyed_only_from_its_place() {
        let instructed = json!({"system": "Reply with only the word 'Marmalade', nothing else.", "messages": [{"role": "user", "content": "hi"}]});
        assert_eq!(
            pick(Protocol::Anthropic, &instructed, 10),
            Pick {
                scenario: "echo",
                prompt: Some("Marmalade".into())
            }
        );
        // The same words as a user turn are not a system prompt.
        let misplaced = json!({"messages": [{"role": "user", "content": "Reply with only the word Marmalade"}]});
        assert_eq!(pick(Protocol::Anthropic, &misplaced, 10).scenario, "text");
    }
}
