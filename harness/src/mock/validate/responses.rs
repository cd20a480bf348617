//! The OpenAI Responses API, as api.openai.com checks it: the route, a bearer key, a model, an
//! `input` (a string, or items of known roles and types), flat function tools, and every
//! `function_call_output` answering a `function_call` earlier in `input` (with `store: false`
//! there is no server state to find it in).

use serde_json::Value;

use super::openai::{common, error, known_model};
use super::{content_text, Incoming, Rejection, Route};

pub(super) fn validate(req: &Incoming<'_>) -> Result<Route, Rejection> {
    let model = common(req, "/responses")?;
    let input = req.body.get("input");
    let prompt = match input {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Array(items)) if !items.is_empty() => check_items(items)?,
        _ => {
            return Err(error(
                400,
                "Missing required parameter: 'input'.",
                "invalid_request_error",
                Some("missing_required_parameter"),
            ))
        }
    };
    for (i, tool) in req
        .body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        // Chat Completions' nested `{"type":"function","function":{…}}` is refused here.
        if tool.get("type").and_then(Value::as_str) == Some("function")
            && tool.get("name").and_then(Value::as_str).is_none()
        {
            return Err(error(
                400,
                &format!("Missing required parameter: 'tools[{i}].name'."),
                "invalid_request_error",
                Some("missing_required_parameter"),
            ));
        }
    }
    known_model(model)?;
    Ok(Route {
        stream: req.streams(),
        model: model.to_owned(),
        prompt,
    })
}

/// Checks the input items; returns the last user message's text.
fn check_items(items: &[Value]) -> Result<String, Rejection> {
    let mut call_ids: Vec<&str> = Vec::new();
    let mut prompt = String::new();
    for (i, item) in items.iter().enumerate() {
        let kind = item
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("message");
        match kind {
            "message" => {
                let role = item.get("role").and_then(Value::as_str).unwrap_or_default();
                match role {
                    "user" => prompt = content_text(item.get("content")),
                    "assistant" | "system" | "developer" => {}
                    other => {
                        return Err(error(
                            400,
                            &format!("Invalid value: '{other}'. Supported values are: 'assistant', 'system', 'developer', and 'user'."),
                            "invalid_request_error",
                            Some("invalid_value"),
                        ))
                    }
                }
            }
            "function_call" => {
                call_ids.extend(item.get("call_id").and_then(Value::as_str));
            }
            "function_call_output" => {
                let id = item
                    .get("call_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !call_ids.contains(&id) {
                    return Err(error(
                        400,
                        &format!("No tool call found for function call output with call_id {id}."),
                        "invalid_request_error",
                        None,
                    ));
                }
            }
            "reasoning" if item.get("encrypted_content").is_none() && item.get("id").is_none() => {
                return Err(error(
                    400,
                    &format!("Missing required parameter: 'input[{i}].encrypted_content'."),
                    "invalid_request_error",
                    Some("missing_required_parameter"),
                ));
            }
            _ => {}
        }
    }
    Ok(prompt)
}
