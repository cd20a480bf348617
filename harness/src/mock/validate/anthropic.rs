//! Anthropic Messages, as api.anthropic.com checks it: the route, a key (`x-api-key` or bearer),
//! a dated `anthropic-version`, a model, `max_tokens`, user/assistant turns only, and tool ids
//! matching `^[a-zA-Z0-9_-]+$`.

use serde_json::{json, Value};

use super::{content_text, last_turn, model_of, turns, Incoming, Rejection, Route, MISSING_MODEL};

fn error(status: u16, kind: &str, message: &str) -> Rejection {
    Rejection {
        status,
        body: json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_mock"}),
    }
}

fn is_date(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

fn valid_tool_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub(super) fn validate(req: &Incoming<'_>) -> Result<Route, Rejection> {
    if !req.is_post() || !req.path.ends_with("/messages") {
        return Err(error(
            404,
            "not_found_error",
            &format!("Not found: {} {}", req.method, req.path),
        ));
    }
    if !req.key_ok(super::key_headers(crate::Protocol::Anthropic)) {
        return Err(unauthorized());
    }
    match (req.header)("anthropic-version") {
        Some(v) if is_date(&v) => {}
        Some(v) => {
            return Err(error(
                400,
                "invalid_request_error",
                &format!("anthropic-version: invalid version {v:?}"),
            ))
        }
        None => {
            return Err(error(
                400,
                "invalid_request_error",
                "anthropic-version: header is required",
            ))
        }
    }
    if !req.body.is_object() {
        return Err(error(
            400,
            "invalid_request_error",
            "The request body is not valid JSON.",
        ));
    }
    let Some(model) = model_of(req.body) else {
        return Err(error(400, "invalid_request_error", "model: Field required"));
    };
    if !req.body.get("max_tokens").is_some_and(Value::is_u64) {
        return Err(error(
            400,
            "invalid_request_error",
            "max_tokens: Field required",
        ));
    }
    let Some(messages) = turns(req.body, "messages") else {
        return Err(error(
            400,
            "invalid_request_error",
            "messages: at least one message is required",
        ));
    };
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
        if role != "user" && role != "assistant" {
            return Err(error(
                400,
                "invalid_request_error",
                &format!("messages.{i}.role: Input should be 'user' or 'assistant'"),
            ));
        }
        for (j, block) in m
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let id = match block.get("type").and_then(Value::as_str) {
                Some("tool_use") => block.get("id"),
                Some("tool_result") => block.get("tool_use_id"),
                _ => continue,
            };
            let id = id.and_then(Value::as_str).unwrap_or_default();
            if !valid_tool_id(id) {
                return Err(error(
                    400,
                    "invalid_request_error",
                    &format!(
                        "messages.{i}.content.{j}: String should match pattern '^[a-zA-Z0-9_-]+$'"
                    ),
                ));
            }
        }
    }
    // A final assistant turn is a prefill the model continues; Anthropic refuses one that ends
    // in whitespace, with this message.
    if let Some(last) = messages.last().filter(|m| m["role"] == "assistant") {
        if content_text(last.get("content")).ends_with(char::is_whitespace) {
            return Err(error(
                400,
                "invalid_request_error",
                "messages: final assistant content cannot end with trailing whitespace",
            ));
        }
    }
    // Extended thinking allows only `auto` and `none` tool choices; a forced tool is refused
    // with this message ("Extended thinking with tool use", Anthropic's docs).
    let thinking = &req.body["thinking"];
    let forced = matches!(
        req.body["tool_choice"]["type"].as_str(),
        Some("any" | "tool")
    );
    if forced && thinking.is_object() && thinking["type"] != "disabled" {
        return Err(error(
            400,
            "invalid_request_error",
            "Thinking may not be enabled when tool_choice forces tool use.",
        ));
    }
    if model == MISSING_MODEL {
        return Err(error(404, "not_found_error", "model: missing-model"));
    }
    Ok(Route {
        stream: req.streams(),
        model: model.to_owned(),
        prompt: content_text(
            last_turn(req.body, "messages", "user").and_then(|m| m.get("content")),
        ),
    })
}

/// Anthropic's refusal of a missing or wrong key.
pub(super) fn unauthorized() -> Rejection {
    error(401, "authentication_error", "invalid x-api-key")
}
