//! Encodes a request as a Chat Completions body.

use serde_json::{json, Map, Value};

use super::Dialect;
use crate::context::ResolvedCall;
use crate::error::Result;
use crate::ids::wire_id;
use crate::kit::image_url;
use crate::request::{ContentPart, Message, Request, ToolChoice};
use crate::wire::{Encoded, Operation};

pub(super) fn encode(
    dialect: Dialect,
    call: &ResolvedCall<'_>,
    request: &Request,
    stream: bool,
) -> Result<Encoded> {
    let mut body = Map::new();
    body.insert("model".into(), call.model.into());
    body.insert(
        "messages".into(),
        request
            .messages
            .iter()
            .map(|m| message(m, dialect != Dialect::OpenAi))
            .collect(),
    );
    if !request.tools.is_empty() {
        let tools = request.tools.iter().map(|t| {
            json!({"type": "function", "function": {
                "name": t.name, "description": t.description, "parameters": t.parameters}})
        });
        body.insert("tools".into(), tools.collect());
    }
    if let Some(choice) = &request.tool_choice {
        body.insert("tool_choice".into(), tool_choice(choice));
    }
    let p = &call.params;
    if let Some(t) = p.temperature {
        body.insert("temperature".into(), t.into());
    }
    if let Some(t) = p.top_p {
        body.insert("top_p".into(), t.into());
    }
    if let Some(max) = p.max_output_tokens {
        // Reasoning models on api.openai.com reject the legacy `max_tokens`; many compatible
        // servers only know it.
        let name = match dialect {
            Dialect::OpenAi => "max_completion_tokens",
            Dialect::OpenRouter | Dialect::Compatible => "max_tokens",
        };
        body.insert(name.into(), max.into());
    }
    if !p.stop.is_empty() {
        body.insert("stop".into(), p.stop.clone().into());
    }
    if let Some(format) = &request.response_format {
        body.insert(
            "response_format".into(),
            json!({"type": "json_schema", "json_schema": {
                "name": format.name, "schema": format.schema, "strict": format.strict}}),
        );
    }
    if let Some(reasoning) = &request.reasoning {
        match dialect {
            Dialect::OpenRouter => {
                let mut r = Map::new();
                if let Some(effort) = &reasoning.effort {
                    r.insert("effort".into(), effort.clone().into());
                } else if let Some(budget) = reasoning.budget_tokens {
                    r.insert("max_tokens".into(), budget.into());
                }
                body.insert("reasoning".into(), Value::Object(r));
            }
            Dialect::OpenAi | Dialect::Compatible => {
                let effort = reasoning.effort.clone().unwrap_or_else(|| "medium".into());
                body.insert("reasoning_effort".into(), effort.into());
            }
        }
    }
    if stream {
        body.insert("stream".into(), true.into());
        // Without this a stream carries no usage at all (A1).
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Ok(Encoded {
        operation: Operation::new("chat/completions"),
        headers: Vec::new(),
        body: serde_json::to_vec(&Value::Object(body)).expect("a JSON value always serialises"),
    })
}

/// A message; `replay`: with the reasoning replay data of `super::replay` (not to OpenAI,
/// which refuses fields it does not know).
fn message(m: &Message, replay: bool) -> Value {
    match m {
        Message::System { content } => json!({"role": "system", "content": content}),
        Message::User { content } => {
            let content = match content.as_slice() {
                [ContentPart::Text { text }] => Value::String(text.clone()),
                parts => parts.iter().map(part).collect(),
            };
            json!({"role": "user", "content": content})
        }
        Message::Assistant {
            content,
            tool_calls,
            reasoning,
        } => {
            let mut m = Map::new();
            m.insert("role".into(), "assistant".into());
            m.insert(
                "content".into(),
                if content.is_empty() && !tool_calls.is_empty() {
                    Value::Null
                } else {
                    content.clone().into()
                },
            );
            if !tool_calls.is_empty() {
                let calls = tool_calls.iter().map(|c| {
                    let mut call = json!({"id": wire_id(&c.id), "type": "function", "function": {
                        "name": c.name, "arguments": c.arguments.to_string()}});
                    if let (true, Some(s)) = (replay, &c.signature) {
                        call["extra_content"] = super::replay::extra_content(s);
                    }
                    call
                });
                m.insert("tool_calls".into(), calls.collect());
            }
            if replay && !reasoning.is_empty() {
                m.insert(
                    "reasoning_details".into(),
                    super::replay::details(reasoning).into(),
                );
            }
            Value::Object(m)
        }
        // Chat Completions has no error flag for tool results; the text carries it.
        Message::Tool {
            call_id, content, ..
        } => json!({"role": "tool", "tool_call_id": wire_id(call_id), "content": content}),
    }
}

fn part(p: &ContentPart) -> Value {
    match p {
        ContentPart::Text { text } => json!({"type": "text", "text": text}),
        ContentPart::Image { source } => {
            json!({"type": "image_url", "image_url": {"url": image_url(source)}})
        }
    }
}

fn tool_choice(choice: &ToolChoice) -> Value {
    match choice {
        ToolChoice::Auto => "auto".into(),
        ToolChoice::None => "none".into(),
        ToolChoice::Required => "required".into(),
        ToolChoice::Named(name) => json!({"type": "function", "function": {"name": name}}),
    }
}
