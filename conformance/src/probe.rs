//! Reading a recorded request the protocol's way: where the system prompt, parameters, tool
//! results and other fields live on each wire (contract A1–A4).

use serde_json::Value;

use crate::Protocol;

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
