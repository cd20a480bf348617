//! Encodes a request as a Messages body: `system` at the top level, tool results inside user
//! turns, consecutive turns of one role merged into one message.

use serde_json::{json, Map, Value};

use super::API_VERSION;
use crate::context::ResolvedCall;
use crate::error::{Error, Result};
use crate::ids::wire_id;
use crate::kit::{merge_turns, system_prompt};
use crate::request::{ContentPart, ImageSource, Message, Request, ToolChoice};
use crate::wire::{Encoded, Operation};

/// Reasoning budgets for effort levels, since Messages takes a token budget only.
fn budget_for_effort(effort: &str) -> u32 {
    match effort {
        "low" | "minimal" => 1024,
        "high" => 16_384,
        _ => 4096,
    }
}

pub(super) fn encode(call: &ResolvedCall<'_>, request: &Request, stream: bool) -> Result<Encoded> {
    let p = &call.params;
    let max_tokens = p.max_output_tokens.ok_or_else(|| {
        Error::missing_context(
            call.provider,
            "max_output_tokens",
            "Anthropic requires `max_tokens`: set it on the request or in RuntimeContext::settings",
        )
    })?;
    let mut body = Map::new();
    body.insert("model".into(), call.model.into());
    body.insert("max_tokens".into(), max_tokens.into());
    if let Some(system) = system_prompt(&request.messages) {
        body.insert("system".into(), system.into());
    }
    body.insert("messages".into(), messages(&request.messages));
    if !request.tools.is_empty() {
        let tools = request.tools.iter().map(
            |t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}),
        );
        body.insert("tools".into(), tools.collect());
    }
    if let Some(choice) = &request.tool_choice {
        let choice = match choice {
            ToolChoice::Auto => json!({"type": "auto"}),
            ToolChoice::None => json!({"type": "none"}),
            ToolChoice::Required => json!({"type": "any"}),
            ToolChoice::Named(name) => json!({"type": "tool", "name": name}),
        };
        body.insert("tool_choice".into(), choice);
    }
    if !p.stop.is_empty() {
        body.insert("stop_sequences".into(), p.stop.clone().into());
    }
    if let Some(t) = p.temperature {
        body.insert("temperature".into(), t.into());
    }
    if let Some(t) = p.top_p {
        body.insert("top_p".into(), t.into());
    }
    if let Some(reasoning) = &request.reasoning {
        let budget = reasoning
            .budget_tokens
            .unwrap_or_else(|| budget_for_effort(reasoning.effort.as_deref().unwrap_or("medium")));
        body.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": budget}),
        );
    }
    if let Some(format) = &request.response_format {
        body.insert(
            "output_config".into(),
            json!({"format": {"type": "json_schema", "schema": format.schema}}),
        );
    }
    if stream {
        body.insert("stream".into(), true.into());
    }
    let has_version = call
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("anthropic-version"));
    let headers = if has_version {
        Vec::new()
    } else {
        vec![("anthropic-version".to_owned(), API_VERSION.to_owned())]
    };
    Ok(Encoded {
        operation: Operation::new("messages"),
        headers,
        body: serde_json::to_vec(&Value::Object(body)).expect("a JSON value always serialises"),
    })
}

/// The `messages` array: system turns left out (they went to `system`), tool results as
/// `tool_result` blocks of a user turn, and runs of one role merged.
fn messages(history: &[Message]) -> Value {
    let turns = history.iter().filter_map(|m| {
        Some(match m {
            Message::System { .. } => return None,
            Message::User { content } => ("user", content.iter().map(user_block).collect()),
            Message::Assistant {
                content,
                tool_calls,
                reasoning,
            } => {
                // Thinking blocks go first and unchanged: with extended thinking and tool use the
                // API checks their signatures. Blocks from other vendors carry neither field.
                let mut blocks: Vec<Value> = reasoning
                    .iter()
                    .filter_map(|r| match (&r.signature, &r.redacted) {
                        (Some(signature), _) => Some(
                            json!({"type": "thinking", "thinking": r.text, "signature": signature}),
                        ),
                        (None, Some(data)) => {
                            Some(json!({"type": "redacted_thinking", "data": data}))
                        }
                        (None, None) => None,
                    })
                    .collect();
                if !content.is_empty() {
                    blocks.push(json!({"type": "text", "text": content}));
                }
                blocks.extend(tool_calls.iter().map(|c| {
                    json!({"type": "tool_use", "id": wire_id(&c.id), "name": c.name, "input": c.arguments})
                }));
                ("assistant", blocks)
            }
            Message::Tool {
                call_id,
                content,
                is_error,
            } => {
                let mut block = json!({"type": "tool_result", "tool_use_id": wire_id(call_id), "content": content});
                if *is_error {
                    block["is_error"] = true.into();
                }
                ("user", vec![block])
            }
        })
    });
    merge_turns(turns)
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect()
}

fn user_block(part: &ContentPart) -> Value {
    match part {
        ContentPart::Text { text } => json!({"type": "text", "text": text}),
        ContentPart::Image {
            source: ImageSource::Base64 { media_type, data },
        } => {
            json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}})
        }
        ContentPart::Image {
            source: ImageSource::Url { url },
        } => json!({"type": "image", "source": {"type": "url", "url": url}}),
    }
}
