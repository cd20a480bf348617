//! The `auto` scenario: the mock answers each request the way a vendor would answer *that*
//! request, by picking the protocol's scenario that fits what it asks for. Live-mode checks
//! (and any client pointed at `concord mock`) can then send ordinary requests — force a tool,
//! ask for JSON, send tool results — and get a fitting answer, as from a remote server.
//!
//! The answers come from the same vendor-shaped fixtures as every other scenario; only the
//! choice is made here, and what the `synth_*` scenarios fill in. A forced tool choice (any,
//! required or named) is always answered with a call, as every vendor documents: of the named
//! tool, else the first declared, with arguments made from its JSON Schema. Left to choose, the
//! mock calls the fixtures' tools (`get_weather`, `get_time`, `get_time_now`) when they are
//! declared, and answers any other tools with text, as a model that chose not to call would.
//! A requested JSON Schema gets an instance of it; JSON mode gets a JSON object.

use serde_json::{json, Value};

use super::synth;
use crate::probe::{self, ToolMode};
use crate::scenario::Protocol;

/// The scenario name that picks per request.
pub const AUTO: &str = "auto";

/// The context window the mock enforces in `auto`, in tokens, estimated as body bytes / 4.
pub const CONTEXT_TOKENS: usize = 200_000;

/// The scenario answering with a call of a tool the request declares, arguments made up.
pub(crate) const SYNTH_TOOL_CALL: &str = "synth_tool_call";

/// The scenario answering with JSON made up from the requested schema.
pub(crate) const SYNTH_JSON: &str = "synth_json";

/// What the `synth_*` scenarios fill in for a request: the tool to call and the JSON (the
/// call's arguments, or the answer). Deterministic for the same request, streamed or not (the
/// seed is the body without its streaming switches). Asked by name without tools or a schema,
/// the call is of a tool named `tool`, and the JSON is `{}`.
pub(crate) fn made_up(p: Protocol, body: &Value, scenario: &str) -> (String, Value) {
    let seed = || {
        let mut unstreamed = body.clone();
        if let Some(o) = unstreamed.as_object_mut() {
            o.remove("stream");
            o.remove("stream_options");
        }
        synth::seed_of(unstreamed.to_string().as_bytes())
    };
    match scenario {
        SYNTH_TOOL_CALL => {
            let tools = probe::tool_names(p, body);
            let name = match probe::tool_mode(p, body) {
                ToolMode::Named(n) if tools.contains(&n) => Some(n),
                // The "auto" pick: the fixtures' own tool first, as the fixture answers would.
                ToolMode::Auto => ["get_weather", "get_time", "get_time_now"]
                    .into_iter()
                    .find(|t| tools.iter().any(|d| d == t))
                    .map(str::to_owned),
                _ => None,
            }
            .or_else(|| tools.first().cloned());
            match name {
                Some(name) => {
                    let args = probe::tool_schema(p, body, &name)
                        .map(|schema| synth::instance(schema, seed()))
                        .filter(Value::is_object)
                        .unwrap_or_else(|| json!({}));
                    (name, args)
                }
                None => ("tool".to_owned(), json!({})),
            }
        }
        SYNTH_JSON => {
            let value = probe::response_schema(p, body)
                .map(|schema| synth::instance(schema, seed()))
                .unwrap_or_else(|| json!({}));
            (String::new(), value)
        }
        _ => (String::new(), json!({})),
    }
}

/// Whether a declared tool's schema admits a fixture's arguments: the required properties are
/// there, none is undeclared where `additionalProperties` is false, and each declared one has
/// the type and enum asked. A light check, enough to tell whether a fixture call fits.
fn admits(p: Protocol, body: &Value, tool: &str, args: &Value) -> bool {
    let Some(schema) = probe::tool_schema(p, body, tool) else {
        return true;
    };
    let props = schema["properties"].as_object();
    let mut given = args.as_object().into_iter().flatten();
    let required = schema["required"].as_array().into_iter().flatten();
    let strict = schema["additionalProperties"] == false;
    required
        .filter_map(Value::as_str)
        .all(|r| args.get(r).is_some())
        && given.all(|(k, v)| match props.and_then(|p| p.get(k)) {
            None => !strict,
            Some(prop) => {
                let typed = prop["type"]
                    .as_str()
                    .is_none_or(|t| !t.eq_ignore_ascii_case("string") || v.is_string());
                let listed = prop["enum"].as_array().is_none_or(|e| e.contains(v));
                typed && listed
            }
        })
}

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
        // The parallel fixture calls get_weather(location) twice and get_time(timezone) once.
        let parallel = || {
            declared("get_weather")
                && declared("get_time")
                && probe::parallel_tools_allowed(p, body)
                && admits(p, body, "get_weather", &json!({"location": "Paris"}))
                && admits(p, body, "get_time", &json!({"timezone": "Asia/Tokyo"}))
        };
        let call = match probe::tool_mode(p, body) {
            ToolMode::None => None,
            ToolMode::Named(_) => Some(SYNTH_TOOL_CALL),
            ToolMode::Required if parallel() => Some("parallel_tool_calls"),
            ToolMode::Required => Some(SYNTH_TOOL_CALL),
            ToolMode::Auto if parallel() => Some("parallel_tool_calls"),
            ToolMode::Auto => ["get_weather", "get_time", "get_time_now"]
                .into_iter()
                .any(declared)
                .then_some(SYNTH_TOOL_CALL),
        };
        if let Some(scenario) = call {
            return Pick::of(scenario);
        }
    }
    if probe::asks_json_schema(p, body) || probe::asks_json_object(p, body) {
        return Pick::of(SYNTH_JSON);
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
                "synth_tool_call",
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
                "synth_tool_call",
            ),
            (
                Protocol::Gemini,
                json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "tools": [{"functionDeclarations": [{"name": "get_time_now"}]}], "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_time_now"]}}}),
                "synth_tool_call",
            ),
            (
                Protocol::Gemini,
                json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"responseJsonSchema": {}}}),
                "synth_json",
            ),
            (
                Protocol::OpenaiResponses,
                json!({"input": "hi", "reasoning": {"effort": "low"}}),
                "reasoning",
            ),
            // The parallel fixture's get_weather(location) does not fit a tool that wants a city.
            (
                Protocol::Anthropic,
                json!({"messages": [{"role": "user", "content": "hi"}], "tools": [{"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}, {"name": "get_time"}], "tool_choice": {"type": "any"}}),
                "synth_tool_call",
            ),
            // Left to choose, a tool the fixtures do not know is not called.
            (
                Protocol::OpenaiResponses,
                json!({"input": "hi", "tools": [{"type": "function", "name": "search"}]}),
                "text",
            ),
            (
                Protocol::OpenaiResponses,
                json!({"input": "hi", "tools": [{"type": "function", "name": "search"}], "tool_choice": "required"}),
                "synth_tool_call",
            ),
            (
                Protocol::Openai,
                json!({"messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_object"}}),
                "synth_json",
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
    fn a_forced_call_is_of_the_named_tool_else_the_first_with_arguments_from_its_schema() {
        let tools = json!([
            {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"], "additionalProperties": false}}},
            {"type": "function", "function": {"name": "rate", "parameters": {"type": "object", "properties": {"stars": {"type": "integer", "minimum": 1, "maximum": 5}}, "required": ["stars"]}}}
        ]);
        let named = json!({"messages": [], "tools": tools, "tool_choice": {"type": "function", "function": {"name": "rate"}}});
        let (name, args) = made_up(Protocol::Openai, &named, SYNTH_TOOL_CALL);
        assert_eq!(name, "rate");
        let stars = args["stars"].as_i64().expect("an integer");
        assert!((1..=5).contains(&stars), "{args}");
        assert_eq!(
            made_up(Protocol::Openai, &named, SYNTH_TOOL_CALL),
            (name, args),
            "the same request, the same answer"
        );
        let required = json!({"messages": [], "tools": tools, "tool_choice": "required"});
        let (name, args) = made_up(Protocol::Openai, &required, SYNTH_TOOL_CALL);
        assert_eq!(name, "lookup");
        assert_eq!(args.as_object().unwrap().keys().collect::<Vec<_>>(), ["q"]);
        // Asked by name with nothing to go on.
        assert_eq!(
            made_up(Protocol::Openai, &json!({}), SYNTH_TOOL_CALL),
            ("tool".to_owned(), json!({}))
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
