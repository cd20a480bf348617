//! Reading a request the protocol's way: where the system prompt, parameters, tool results and
//! other fields live on each wire (contract A1–A4). The conformance checks read recorded
//! requests with it, and the mock's `auto` scenario reads what a request asks for.

use serde_json::Value;

use crate::scenario::Protocol;

/// The system prompt as sent.
pub fn system_text(p: Protocol, body: &Value) -> Option<String> {
    match p {
        Protocol::Openai => body["messages"]
            .as_array()?
            .iter()
            .find(|m| m["role"] == "system" || m["role"] == "developer")?["content"]
            .as_str()
            .map(str::to_owned),
        // `instructions`, or a system/developer message among the input items.
        Protocol::OpenaiResponses => {
            body["instructions"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| {
                    let item = body["input"]
                        .as_array()?
                        .iter()
                        .find(|m| m["role"] == "system" || m["role"] == "developer")?;
                    Some(text_of(&item["content"]))
                })
        }
        Protocol::Anthropic => match &body["system"] {
            Value::String(s) => Some(s.clone()),
            Value::Array(blocks) => {
                Some(blocks.iter().filter_map(|b| b["text"].as_str()).collect())
            }
            _ => None,
        },
        Protocol::Gemini => Some(
            body["systemInstruction"]["parts"]
                .as_array()?
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect(),
        ),
    }
}

/// Whether the protocol has a place for a generation parameter at all (the Responses API has
/// no stop sequences).
pub fn has_param(p: Protocol, name: &str) -> bool {
    !(p == Protocol::OpenaiResponses && name == "stop")
}

/// Where a generation parameter lives on the wire (`None`: not there, or the protocol has no
/// place for it).
pub fn param<'a>(p: Protocol, body: &'a Value, name: &str) -> Option<&'a Value> {
    if !has_param(p, name) {
        return None;
    }
    let (key, in_config) = match (p, name) {
        (Protocol::Openai, "max_output_tokens") => {
            return body
                .get("max_completion_tokens")
                .or_else(|| body.get("max_tokens"))
        }
        (Protocol::Openai | Protocol::OpenaiResponses, n) => (n, false),
        (Protocol::Anthropic, "max_output_tokens") => ("max_tokens", false),
        (Protocol::Anthropic, "stop") => ("stop_sequences", false),
        (Protocol::Anthropic, n) => (n, false),
        (Protocol::Gemini, "temperature") => ("temperature", true),
        (Protocol::Gemini, "top_p") => ("topP", true),
        (Protocol::Gemini, "max_output_tokens") => ("maxOutputTokens", true),
        (Protocol::Gemini, "stop") => ("stopSequences", true),
        (Protocol::Gemini, n) => (n, true),
    };
    if in_config {
        body.get("generationConfig")?.get(key)
    } else {
        body.get(key)
    }
}

/// A message content's text: a string, or its parts' texts joined with `|`.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|x| x["text"].as_str())
            .collect::<Vec<_>>()
            .join("|"),
        _ => String::new(),
    }
}

/// The list of turns (messages, contents or input items).
fn turn_list(p: Protocol, body: &Value) -> &Value {
    match p {
        Protocol::Gemini => &body["contents"],
        Protocol::OpenaiResponses => &body["input"],
        Protocol::Openai | Protocol::Anthropic => &body["messages"],
    }
}

/// The conversation turns as (role, text) with the protocol's role names. For the Responses
/// API, only message items are turns (function calls and their outputs are items of their own).
pub fn turns(p: Protocol, body: &Value) -> Vec<(String, String)> {
    let list = turn_list(p, body);
    if p == Protocol::OpenaiResponses {
        if let Value::String(s) = list {
            return vec![("user".to_owned(), s.clone())];
        }
    }
    list.as_array()
        .into_iter()
        .flatten()
        .filter(|m| p != Protocol::OpenaiResponses || m.get("role").is_some())
        .map(|m| {
            let role = m["role"].as_str().unwrap_or_default().to_owned();
            let content = if p == Protocol::Gemini {
                &m["parts"]
            } else {
                &m["content"]
            };
            (role, text_of(content))
        })
        .collect()
}

/// Every content block / part / message / item of the request, flattened, for searching.
pub fn all_parts(p: Protocol, body: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for m in turn_list(p, body).as_array().into_iter().flatten() {
        out.push(m);
        let content = if p == Protocol::Gemini {
            &m["parts"]
        } else {
            &m["content"]
        };
        out.extend(content.as_array().into_iter().flatten());
    }
    out
}

/// The names of the function tools a request declares.
pub fn tool_names(p: Protocol, body: &Value) -> Vec<String> {
    let tools = body["tools"].as_array().into_iter().flatten();
    let name = |v: &Value| v.as_str().map(str::to_owned);
    match p {
        Protocol::Openai => tools.filter_map(|t| name(&t["function"]["name"])).collect(),
        Protocol::OpenaiResponses | Protocol::Anthropic => {
            tools.filter_map(|t| name(&t["name"])).collect()
        }
        Protocol::Gemini => tools
            .flat_map(|t| t["functionDeclarations"].as_array().into_iter().flatten())
            .filter_map(|f| name(&f["name"]))
            .collect(),
    }
}

/// What a request's tool choice asks of the model, in the protocol's own form read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolMode {
    /// The model decides (also when the request says nothing).
    Auto,
    /// No tool calls.
    None,
    /// At least one tool call.
    Required,
    /// A call of this tool.
    Named(String),
}

/// The tool choice a request makes.
pub fn tool_mode(p: Protocol, body: &Value) -> ToolMode {
    let named = |n: &Value| n.as_str().map(|n| ToolMode::Named(n.to_owned()));
    let by_word = |w: &str| match w {
        "none" | "NONE" => ToolMode::None,
        "required" | "any" | "ANY" => ToolMode::Required,
        _ => ToolMode::Auto,
    };
    match p {
        Protocol::Openai | Protocol::OpenaiResponses => match &body["tool_choice"] {
            Value::String(w) => by_word(w),
            v => named(&v["function"]["name"])
                .or_else(|| named(&v["name"]))
                .unwrap_or(ToolMode::Auto),
        },
        Protocol::Anthropic => {
            let choice = &body["tool_choice"];
            match choice["type"].as_str() {
                Some("tool") => named(&choice["name"]).unwrap_or(ToolMode::Required),
                Some(w) => by_word(w),
                None => ToolMode::Auto,
            }
        }
        Protocol::Gemini => {
            let config = &body["toolConfig"]["functionCallingConfig"];
            let mode = by_word(config["mode"].as_str().unwrap_or("AUTO"));
            match config["allowedFunctionNames"].as_array().map(Vec::as_slice) {
                Some([only]) if mode == ToolMode::Required => named(only).unwrap_or(mode),
                _ => mode,
            }
        }
    }
}

/// Whether the request allows several tool calls in one answer.
pub fn parallel_tools_allowed(p: Protocol, body: &Value) -> bool {
    match p {
        Protocol::Openai | Protocol::OpenaiResponses => body["parallel_tool_calls"] != false,
        Protocol::Anthropic => body["tool_choice"]["disable_parallel_tool_use"] != true,
        Protocol::Gemini => true,
    }
}

/// Whether the conversation ends with tool results the model is to answer.
pub fn ends_with_tool_result(p: Protocol, body: &Value) -> bool {
    let last = turn_list(p, body).as_array().and_then(|l| l.last());
    let Some(last) = last else { return false };
    let has_part = |key: &str, want: &dyn Fn(&Value) -> bool| {
        last[key]
            .as_array()
            .is_some_and(|parts| parts.iter().any(want))
    };
    match p {
        Protocol::Openai => last["role"] == "tool",
        Protocol::OpenaiResponses => last["type"] == "function_call_output",
        Protocol::Anthropic => has_part("content", &|b| b["type"] == "tool_result"),
        Protocol::Gemini => has_part("parts", &|part| part.get("functionResponse").is_some()),
    }
}

/// The JSON Schema of a declared tool's parameters (Gemini's OpenAPI-style `parameters` too).
pub fn tool_schema<'a>(p: Protocol, body: &'a Value, name: &str) -> Option<&'a Value> {
    let tools = body["tools"].as_array().into_iter().flatten();
    let named = |t: &&Value| t["name"] == name;
    match p {
        Protocol::Openai => tools
            .map(|t| &t["function"])
            .find(named)
            .and_then(|f| f.get("parameters")),
        Protocol::OpenaiResponses => tools.into_iter().find(named)?.get("parameters"),
        Protocol::Anthropic => tools.into_iter().find(named)?.get("input_schema"),
        Protocol::Gemini => {
            let f = tools
                .flat_map(|t| t["functionDeclarations"].as_array().into_iter().flatten())
                .find(named)?;
            // Proto JSON takes the field's own snake_case name too; google-genai sends it.
            [
                "parametersJsonSchema",
                "parameters_json_schema",
                "parameters",
            ]
            .into_iter()
            .find_map(|k| f.get(k))
        }
    }
}

/// The JSON Schema a request asks its answer to follow, if it asks for one.
pub fn response_schema(p: Protocol, body: &Value) -> Option<&Value> {
    match p {
        Protocol::Openai => body["response_format"]["json_schema"].get("schema"),
        Protocol::OpenaiResponses => body["text"]["format"].get("schema"),
        Protocol::Anthropic => body["output_config"]["format"].get("schema"),
        Protocol::Gemini => {
            let config = &body["generationConfig"];
            [
                "responseJsonSchema",
                "response_json_schema",
                "responseSchema",
                "response_schema",
            ]
            .into_iter()
            .find_map(|k| config.get(k))
        }
    }
}

/// Whether the request asks for any JSON object as the answer (JSON mode).
pub fn asks_json_object(p: Protocol, body: &Value) -> bool {
    match p {
        Protocol::Openai => body["response_format"]["type"] == "json_object",
        Protocol::OpenaiResponses => body["text"]["format"]["type"] == "json_object",
        // Messages has no JSON mode; a schema is the only way.
        Protocol::Anthropic => false,
        Protocol::Gemini => body["generationConfig"]["responseMimeType"] == "application/json",
    }
}

/// Whether the request asks for output that follows a JSON schema.
pub fn asks_json_schema(p: Protocol, body: &Value) -> bool {
    match p {
        Protocol::Openai => body["response_format"]["type"] == "json_schema",
        Protocol::OpenaiResponses => body["text"]["format"]["type"] == "json_schema",
        Protocol::Anthropic => body["output_config"]["format"]["type"] == "json_schema",
        Protocol::Gemini => response_schema(p, body).is_some(),
    }
}

/// Whether the request asks the model to reason (an effort, a thinking budget).
pub fn asks_reasoning(p: Protocol, body: &Value) -> bool {
    match p {
        // `reasoning` is OpenRouter's object on Chat Completions.
        Protocol::Openai => {
            body.get("reasoning_effort").is_some() || body.get("reasoning").is_some()
        }
        Protocol::OpenaiResponses => body["reasoning"].is_object(),
        Protocol::Anthropic => {
            body["thinking"].is_object() && body["thinking"]["type"] != "disabled"
        }
        Protocol::Gemini => {
            let thinking = &body["generationConfig"]["thinkingConfig"];
            thinking.is_object() && thinking["thinkingBudget"] != 0
        }
    }
}
