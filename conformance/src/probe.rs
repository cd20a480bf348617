//! Reading a recorded request the protocol's way: where the system prompt, parameters, tool
//! results and other fields live on each wire (contract A1, A3, A4).

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

/// Where a generation parameter lives on the wire (`None`: the protocol has no place for it).
pub fn param<'a>(p: Protocol, body: &'a Value, name: &str) -> Option<&'a Value> {
    let (key, in_config) = match (p, name) {
        (Protocol::Openai, "max_output_tokens") => {
            return body
                .get("max_completion_tokens")
                .or_else(|| body.get("max_tokens"))
        }
        (Protocol::Openai, n) => (n, false),
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

/// The conversation turns as (role, text) with the protocol's role names.
pub fn turns(p: Protocol, body: &Value) -> Vec<(String, String)> {
    let list = match p {
        Protocol::Gemini => &body["contents"],
        _ => &body["messages"],
    };
    list.as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let role = m["role"].as_str().unwrap_or_default().to_owned();
            let content = if p == Protocol::Gemini {
                &m["parts"]
            } else {
                &m["content"]
            };
            let text = match content {
                Value::String(s) => s.clone(),
                Value::Array(parts) => parts
                    .iter()
                    .filter_map(|x| x["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("|"),
                _ => String::new(),
            };
            (role, text)
        })
        .collect()
}

/// Every content block / part / message of the request, flattened, for searching.
pub fn all_parts(p: Protocol, body: &Value) -> Vec<&Value> {
    let list = match p {
        Protocol::Gemini => &body["contents"],
        _ => &body["messages"],
    };
    let mut out = Vec::new();
    for m in list.as_array().into_iter().flatten() {
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
