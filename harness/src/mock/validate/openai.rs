//! OpenAI Chat Completions, as api.openai.com checks it: the route, a bearer key, a model, a
//! non-empty `messages` of known roles, and every `tool` message answering an earlier call.

use serde_json::{json, Value};

use super::{content_text, last_turn, model_of, turns, Incoming, Rejection, Route, MISSING_MODEL};

/// OpenAI's error body (shared by the Responses API).
pub(super) fn error(status: u16, message: &str, kind: &str, code: Option<&str>) -> Rejection {
    Rejection {
        status,
        body: json!({"error": {"message": message, "type": kind, "param": null, "code": code}}),
    }
}

/// The checks both OpenAI APIs share: route, key, JSON object, model.
pub(super) fn common<'a>(req: &'a Incoming<'_>, operation: &str) -> Result<&'a str, Rejection> {
    if !req.is_post() || !req.path.ends_with(operation) {
        return Err(error(
            404,
            &format!("Unknown request URL: {} {}.", req.method, req.path),
            "invalid_request_error",
            Some("unknown_url"),
        ));
    }
    // Azure's classic deployment paths need an api-version; without one Azure answers 404.
    if req.path.contains("/openai/deployments/")
        && !req
            .query
            .unwrap_or_default()
            .split('&')
            .any(|p| p.starts_with("api-version="))
    {
        return Err(Rejection {
            status: 404,
            body: json!({"error": {"code": "404", "message": "Resource not found"}}),
        });
    }
    if !req.key_ok(super::key_headers(crate::Protocol::Openai)) {
        return Err(unauthorized());
    }
    if !req.body.is_object() {
        return Err(error(
            400,
            "We could not parse the JSON body of your request.",
            "invalid_request_error",
            None,
        ));
    }
    model_of(req.body).ok_or_else(|| {
        error(
            400,
            "you must provide a model parameter",
            "invalid_request_error",
            None,
        )
    })
}

/// 404 for the model every mock lacks.
pub(super) fn known_model(model: &str) -> Result<(), Rejection> {
    if model == MISSING_MODEL {
        return Err(error(
            404,
            "The model `missing-model` does not exist or you do not have access to it.",
            "invalid_request_error",
            Some("model_not_found"),
        ));
    }
    Ok(())
}

pub(super) fn validate(req: &Incoming<'_>) -> Result<Route, Rejection> {
    let model = common(req, "/chat/completions")?;
    let Some(messages) = turns(req.body, "messages") else {
        return Err(error(
            400,
            "Invalid 'messages': empty array.",
            "invalid_request_error",
            Some("empty_array"),
        ));
    };
    let mut call_ids: Vec<&str> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
        match role {
            "system" | "developer" | "user" => {}
            "assistant" => call_ids.extend(
                m.get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.get("id").and_then(Value::as_str)),
            ),
            "tool" => {
                let id = m.get("tool_call_id").and_then(Value::as_str).unwrap_or_default();
                if !call_ids.contains(&id) {
                    return Err(error(400, &format!("Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'. messages[{i}].tool_call_id {id:?} matches none."), "invalid_request_error", None));
                }
            }
            other => {
                return Err(error(400, &format!("Invalid value: '{other}'. Supported values are: 'system', 'assistant', 'user', 'tool', 'function', and 'developer'."), "invalid_request_error", Some("invalid_value")))
            }
        }
    }
    known_model(model)?;
    Ok(Route {
        stream: req.streams(),
        model: model.to_owned(),
        prompt: content_text(
            last_turn(req.body, "messages", "user").and_then(|m| m.get("content")),
        ),
    })
}

/// OpenAI's refusal of a missing or wrong key.
pub(super) fn unauthorized() -> Rejection {
    error(
        401,
        "Incorrect API key provided.",
        "invalid_request_error",
        Some("invalid_api_key"),
    )
}
