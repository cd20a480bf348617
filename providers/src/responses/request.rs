//! Encodes a request as a Responses API body: system prompts as `instructions`, the conversation
//! as `input` items, flat function tools, `text.format` for JSON schemas, and stateless by
//! default (`store: false`, encrypted reasoning included and carried back in history).

use serde_json::{json, Map, Value};

use crate::context::ResolvedCall;
use crate::error::{Error, Result};
use crate::ids::wire_id;
use crate::kit::{image_url, system_prompt};
use crate::request::{ContentPart, Message, Request, ToolChoice};
use crate::wire::{Encoded, Operation};

/// Reasoning effort for a token budget, since the Responses API takes an effort only.
fn effort_for_budget(budget: u32) -> &'static str {
    match budget {
        0..=2048 => "low",
        2049..=12_000 => "medium",
        _ => "high",
    }
}

pub(super) fn encode(call: &ResolvedCall<'_>, request: &Request, stream: bool) -> Result<Encoded> {
    let p = &call.params;
    if !p.stop.is_empty() {
        // The Responses API has no stop sequences; dropping them would change the answer.
        return Err(Error::unsupported(
            call.provider,
            "stop sequences with the Responses API (it has no `stop`; use --api chat)",
        ));
    }
    let mut body = Map::new();
    body.insert("model".into(), call.model.into());
    if let Some(system) = system_prompt(&request.messages) {
        body.insert("instructions".into(), system.into());
    }
    body.insert("input".into(), input(&request.messages).into());
    if !request.tools.is_empty() {
        // `strict` defaults to true in this API, which rejects schemas that are not strict-ready;
        // concord's tools carry plain JSON schemas, so it is turned off explicitly.
        let tools = request.tools.iter().map(|t| {
            json!({"type": "function", "name": t.name, "description": t.description,
                   "parameters": t.parameters, "strict": false})
        });
        body.insert("tools".into(), tools.collect());
    }
    if let Some(choice) = &request.tool_choice {
        let choice = match choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::None => json!("none"),
            ToolChoice::Required => json!("required"),
            ToolChoice::Named(name) => json!({"type": "function", "name": name}),
        };
        body.insert("tool_choice".into(), choice);
    }
    if let Some(t) = p.temperature {
        body.insert("temperature".into(), t.into());
    }
    if let Some(t) = p.top_p {
        body.insert("top_p".into(), t.into());
    }
    if let Some(max) = p.max_output_tokens {
        body.insert("max_output_tokens".into(), max.into());
    }
    if let Some(format) = &request.response_format {
        body.insert(
            "text".into(),
            json!({"format": {"type": "json_schema", "name": format.name,
                              "schema": format.schema, "strict": format.strict}}),
        );
    }
    if let Some(reasoning) = &request.reasoning {
        let effort = reasoning.effort.clone().unwrap_or_else(|| {
            effort_for_budget(reasoning.budget_tokens.unwrap_or(4096)).to_owned()
        });
        body.insert(
            "reasoning".into(),
            json!({"effort": effort, "summary": "auto"}),
        );
    }
    // Stateless: nothing is kept on the server, and reasoning comes back encrypted so the next
    // turn can carry it in `input` (multi-turn tool use without server state).
    body.insert("store".into(), false.into());
    body.insert("include".into(), json!(["reasoning.encrypted_content"]));
    if stream {
        body.insert("stream".into(), true.into());
    }
    Ok(Encoded {
        operation: Operation::new("responses"),
        headers: Vec::new(),
        body: serde_json::to_vec(&Value::Object(body)).expect("a JSON value always serialises"),
    })
}

fn input(history: &[Message]) -> Vec<Value> {
    let mut items = Vec::new();
    for m in history {
        match m {
            Message::System { .. } => {}
            Message::User { content } => {
                let content = match content.as_slice() {
                    [ContentPart::Text { text }] => Value::String(text.clone()),
                    parts => parts.iter().map(part).collect(),
                };
                items.push(json!({"role": "user", "content": content}));
            }
            Message::Assistant {
                content,
                tool_calls,
                reasoning,
            } => {
                // Reasoning items first, as the API returned them; only this API's encrypted
                // reasoning can go back (Anthropic signatures mean nothing here).
                items.extend(reasoning.iter().filter_map(|r| {
                    let encrypted = r.encrypted_content.as_ref()?;
                    let summary: Vec<Value> = if r.text.is_empty() {
                        Vec::new()
                    } else {
                        vec![json!({"type": "summary_text", "text": r.text})]
                    };
                    let mut item = json!({"type": "reasoning", "summary": summary,
                                          "encrypted_content": encrypted});
                    if let Some(id) = &r.id {
                        item["id"] = id.clone().into();
                    }
                    Some(item)
                }));
                if !content.is_empty() {
                    items.push(json!({"role": "assistant", "content": content}));
                }
                items.extend(tool_calls.iter().map(|c| {
                    json!({"type": "function_call", "call_id": wire_id(&c.id),
                           "name": c.name, "arguments": c.arguments.to_string()})
                }));
            }
            // No error flag in this API: the output text carries it.
            Message::Tool {
                call_id, content, ..
            } => items.push(json!({"type": "function_call_output",
                                   "call_id": wire_id(call_id), "output": content})),
        }
    }
    items
}

fn part(p: &ContentPart) -> Value {
    match p {
        ContentPart::Text { text } => json!({"type": "input_text", "text": text}),
        ContentPart::Image { source } => {
            json!({"type": "input_image", "image_url": image_url(source)})
        }
    }
}
