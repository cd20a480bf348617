//! Encodes a request as a `generateContent` body: roles `user`/`model`, `systemInstruction`,
//! `functionResponse` parts carrying the function's name, runs of one role merged.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::context::ResolvedCall;
use crate::error::{Error, ErrorKind, Result};
use crate::kit::merge_turns;
use crate::request::{ContentPart, ImageSource, Message, Request, ToolChoice};
use crate::wire::{Encoded, Operation};

pub(super) fn encode(call: &ResolvedCall<'_>, request: &Request, stream: bool) -> Result<Encoded> {
    let mut body = Map::new();
    body.insert(
        "contents".into(),
        contents(call.provider, &request.messages)?,
    );
    let system: Vec<Value> = request
        .messages
        .iter()
        .filter_map(|m| match m {
            Message::System { content } => Some(json!({"text": content})),
            _ => None,
        })
        .collect();
    if !system.is_empty() {
        body.insert("systemInstruction".into(), json!({"parts": system}));
    }
    if !request.tools.is_empty() {
        let declarations: Vec<Value> = request
            .tools
            .iter()
            // `parametersJsonSchema`, not `parameters`: the latter is the API's OpenAPI-subset
            // `Schema` message and refuses JSON Schema's other keywords (`additionalProperties`,
            // `$schema`, `const`…) that the tools callers bring routinely carry.
            .map(|t| json!({"name": t.name, "description": t.description, "parametersJsonSchema": t.parameters}))
            .collect();
        body.insert(
            "tools".into(),
            json!([{"functionDeclarations": declarations}]),
        );
    }
    if let Some(choice) = &request.tool_choice {
        let config = match choice {
            ToolChoice::Auto => json!({"mode": "AUTO"}),
            ToolChoice::None => json!({"mode": "NONE"}),
            ToolChoice::Required => json!({"mode": "ANY"}),
            ToolChoice::Named(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
        };
        body.insert(
            "toolConfig".into(),
            json!({"functionCallingConfig": config}),
        );
    }
    let mut generation = Map::new();
    let p = &call.params;
    if let Some(t) = p.temperature {
        generation.insert("temperature".into(), t.into());
    }
    if let Some(t) = p.top_p {
        generation.insert("topP".into(), t.into());
    }
    if let Some(max) = p.max_output_tokens {
        generation.insert("maxOutputTokens".into(), max.into());
    }
    if !p.stop.is_empty() {
        generation.insert("stopSequences".into(), p.stop.clone().into());
    }
    if let Some(format) = &request.response_format {
        generation.insert("responseMimeType".into(), "application/json".into());
        // JSON Schema goes in `responseJsonSchema`; `responseSchema` is the OpenAPI subset
        // (see `parametersJsonSchema` above). Both the Gemini API and Vertex take it.
        generation.insert("responseJsonSchema".into(), format.schema.clone());
    }
    if let Some(reasoning) = &request.reasoning {
        let mut thinking = Map::new();
        thinking.insert("includeThoughts".into(), true.into());
        if let Some(budget) = reasoning.budget_tokens {
            thinking.insert("thinkingBudget".into(), budget.into());
        }
        generation.insert("thinkingConfig".into(), Value::Object(thinking));
    }
    if !generation.is_empty() {
        body.insert("generationConfig".into(), Value::Object(generation));
    }
    let model = call.model.strip_prefix("models/").unwrap_or(call.model);
    let operation = if stream {
        Operation::new(format!("models/{model}:streamGenerateContent")).with_query("alt", "sse")
    } else {
        Operation::new(format!("models/{model}:generateContent"))
    };
    Ok(Encoded {
        operation,
        headers: Vec::new(),
        body: serde_json::to_vec(&Value::Object(body)).expect("a JSON value always serialises"),
    })
}

fn contents(provider: &str, history: &[Message]) -> Result<Value> {
    // functionResponse needs the function's name; tool results only carry the call id.
    let names: HashMap<&str, &str> = history
        .iter()
        .flat_map(|m| match m {
            Message::Assistant { tool_calls, .. } => tool_calls.as_slice(),
            _ => &[],
        })
        .map(|c| (c.id.as_str(), c.name.as_str()))
        .collect();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for m in history {
        let (role, parts) = match m {
            Message::System { .. } => continue,
            Message::User { content } => ("user", content.iter().map(user_part).collect()),
            Message::Assistant {
                content,
                tool_calls,
                ..
            } => {
                let mut parts = Vec::new();
                if !content.is_empty() {
                    parts.push(json!({"text": content}));
                }
                parts.extend(tool_calls.iter().map(|c| {
                    let mut part = json!({"functionCall": {"name": c.name, "args": c.arguments}});
                    if let Some(signature) = &c.signature {
                        part["thoughtSignature"] = signature.clone().into();
                    }
                    part
                }));
                ("model", parts)
            }
            Message::Tool {
                call_id,
                content,
                is_error,
            } => {
                let name = names.get(call_id.as_str()).ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidRequest,
                        provider,
                        format!("tool result `{call_id}` answers no earlier tool call; Gemini needs the function name"),
                    )
                })?;
                // Gemini's docs: `output` for a result, `error` for a failure.
                let key = if *is_error { "error" } else { "output" };
                let response = json!({ key: content });
                (
                    "user",
                    vec![json!({"functionResponse": {"name": name, "response": response}})],
                )
            }
        };
        turns.push((role, parts));
    }
    Ok(merge_turns(turns)
        .into_iter()
        .map(|(role, parts)| json!({"role": role, "parts": parts}))
        .collect())
}

fn user_part(part: &ContentPart) -> Value {
    match part {
        ContentPart::Text { text } => json!({"text": text}),
        ContentPart::Image {
            source: ImageSource::Base64 { media_type, data },
        } => json!({"inlineData": {"mimeType": media_type, "data": data}}),
        ContentPart::Image {
            source: ImageSource::Url { url },
        } => json!({"fileData": {"mimeType": mime_from_url(url), "fileUri": url}}),
    }
}

/// `fileData` needs a MIME type; a URL only hints at it through its extension.
fn mime_from_url(url: &str) -> &'static str {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    match path.rsplit('.').next() {
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        Some("gif") => "image/gif",
        Some("heic") => "image/heic",
        _ => "image/jpeg",
    }
}
