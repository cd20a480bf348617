//! Checks a request the way the vendor would, answering a violation with the vendor's own error
//! body. A mock that accepts anything cannot catch an encoding bug.

use serde_json::{json, Value};

use crate::scenario::Protocol;

/// The model name every mock answers with 404.
pub const MISSING_MODEL: &str = "missing-model";

/// A rejection: status and the vendor's error body.
#[derive(Debug)]
pub struct Rejection {
    /// HTTP status.
    pub status: u16,
    /// The vendor-shaped error body.
    pub body: Value,
}

/// What the route says about the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Whether a stream was asked for.
    pub stream: bool,
    /// The model named in the path (Gemini) or body.
    pub model: String,
}

pub(crate) struct Incoming<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub header: &'a dyn Fn(&str) -> Option<String>,
    pub body: &'a Value,
    pub expected_key: Option<&'a str>,
}

pub(crate) fn validate(protocol: Protocol, req: &Incoming<'_>) -> Result<Route, Rejection> {
    match protocol {
        Protocol::Openai => openai(req),
        Protocol::Anthropic => anthropic(req),
        Protocol::Gemini => gemini(req),
    }
}

fn openai_error(status: u16, message: &str, kind: &str, code: Option<&str>) -> Rejection {
    Rejection {
        status,
        body: json!({"error": {"message": message, "type": kind, "param": null, "code": code}}),
    }
}

fn anthropic_error(status: u16, kind: &str, message: &str) -> Rejection {
    Rejection {
        status,
        body: json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_mock"}),
    }
}

fn gemini_error(status: u16, grpc: &str, message: &str) -> Rejection {
    Rejection {
        status,
        body: json!({"error": {"code": status, "message": message, "status": grpc}}),
    }
}

fn key_ok(given: Option<&str>, expected: Option<&str>) -> bool {
    match (given, expected) {
        (Some(g), Some(e)) => g == e,
        (Some(g), None) => !g.trim().is_empty(),
        (None, _) => false,
    }
}

/// The non-empty array at `key` of the body.
fn turns<'a>(body: &'a Value, key: &str) -> Option<&'a Vec<Value>> {
    body.get(key)
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
}

fn model_of(body: &Value) -> Option<&str> {
    body.get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
}

fn openai(req: &Incoming<'_>) -> Result<Route, Rejection> {
    if req.method != "POST" || req.path != "/v1/chat/completions" {
        return Err(openai_error(
            404,
            &format!("Unknown request URL: {} {}.", req.method, req.path),
            "invalid_request_error",
            Some("unknown_url"),
        ));
    }
    let auth = (req.header)("authorization");
    let key = auth.as_deref().and_then(|a| a.strip_prefix("Bearer "));
    if !key_ok(key, req.expected_key) {
        return Err(openai_error(
            401,
            "Incorrect API key provided.",
            "invalid_request_error",
            Some("invalid_api_key"),
        ));
    }
    if !req.body.is_object() {
        return Err(openai_error(
            400,
            "We could not parse the JSON body of your request.",
            "invalid_request_error",
            None,
        ));
    }
    let Some(model) = model_of(req.body) else {
        return Err(openai_error(
            400,
            "you must provide a model parameter",
            "invalid_request_error",
            None,
        ));
    };
    let Some(messages) = turns(req.body, "messages") else {
        return Err(openai_error(
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
                    return Err(openai_error(400, &format!("Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'. messages[{i}].tool_call_id {id:?} matches none."), "invalid_request_error", None));
                }
            }
            other => {
                return Err(openai_error(400, &format!("Invalid value: '{other}'. Supported values are: 'system', 'assistant', 'user', 'tool', 'function', and 'developer'."), "invalid_request_error", Some("invalid_value")))
            }
        }
    }
    if model == MISSING_MODEL {
        return Err(openai_error(
            404,
            "The model `missing-model` does not exist or you do not have access to it.",
            "invalid_request_error",
            Some("model_not_found"),
        ));
    }
    Ok(Route {
        stream: req
            .body
            .get("stream")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        model: model.to_owned(),
    })
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

fn anthropic(req: &Incoming<'_>) -> Result<Route, Rejection> {
    if req.method != "POST" || req.path != "/v1/messages" {
        return Err(anthropic_error(
            404,
            "not_found_error",
            &format!("Not found: {} {}", req.method, req.path),
        ));
    }
    let bearer =
        (req.header)("authorization").and_then(|a| a.strip_prefix("Bearer ").map(str::to_owned));
    let key = (req.header)("x-api-key").or(bearer);
    if !key_ok(key.as_deref(), req.expected_key) {
        return Err(anthropic_error(
            401,
            "authentication_error",
            "invalid x-api-key",
        ));
    }
    match (req.header)("anthropic-version") {
        Some(v) if is_date(&v) => {}
        Some(v) => {
            return Err(anthropic_error(
                400,
                "invalid_request_error",
                &format!("anthropic-version: invalid version {v:?}"),
            ))
        }
        None => {
            return Err(anthropic_error(
                400,
                "invalid_request_error",
                "anthropic-version: header is required",
            ))
        }
    }
    if !req.body.is_object() {
        return Err(anthropic_error(
            400,
            "invalid_request_error",
            "The request body is not valid JSON.",
        ));
    }
    let Some(model) = model_of(req.body) else {
        return Err(anthropic_error(
            400,
            "invalid_request_error",
            "model: Field required",
        ));
    };
    if !req.body.get("max_tokens").is_some_and(Value::is_u64) {
        return Err(anthropic_error(
            400,
            "invalid_request_error",
            "max_tokens: Field required",
        ));
    }
    let Some(messages) = turns(req.body, "messages") else {
        return Err(anthropic_error(
            400,
            "invalid_request_error",
            "messages: at least one message is required",
        ));
    };
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
        if role != "user" && role != "assistant" {
            return Err(anthropic_error(
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
                return Err(anthropic_error(
                    400,
                    "invalid_request_error",
                    &format!(
                        "messages.{i}.content.{j}: String should match pattern '^[a-zA-Z0-9_-]+$'"
                    ),
                ));
            }
        }
    }
    if model == MISSING_MODEL {
        return Err(anthropic_error(
            404,
            "not_found_error",
            "model: missing-model",
        ));
    }
    Ok(Route {
        stream: req
            .body
            .get("stream")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        model: model.to_owned(),
    })
}

fn gemini(req: &Incoming<'_>) -> Result<Route, Rejection> {
    let route = req
        .path
        .strip_prefix("/v1beta/models/")
        .or_else(|| req.path.strip_prefix("/v1/models/"))
        .and_then(|rest| rest.split_once(':'));
    let Some((model, method)) = route.filter(|_| req.method == "POST") else {
        return Err(gemini_error(
            404,
            "NOT_FOUND",
            &format!("Not found: {} {}", req.method, req.path),
        ));
    };
    let query = req.query.unwrap_or_default();
    if query.split('&').any(|p| p.starts_with("key=")) {
        return Err(gemini_error(
            400,
            "INVALID_ARGUMENT",
            "API keys in the URL are not accepted by this mock: send x-goog-api-key",
        ));
    }
    let stream = match method {
        "generateContent" => false,
        "streamGenerateContent" if query.split('&').any(|p| p == "alt=sse") => true,
        "streamGenerateContent" => {
            return Err(gemini_error(
                400,
                "INVALID_ARGUMENT",
                "this mock serves streamGenerateContent as SSE only: add ?alt=sse",
            ))
        }
        other => {
            return Err(gemini_error(
                404,
                "NOT_FOUND",
                &format!("Method not found: {other}"),
            ))
        }
    };
    if !key_ok((req.header)("x-goog-api-key").as_deref(), req.expected_key) {
        return Err(gemini_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        ));
    }
    let Some(contents) = turns(req.body, "contents") else {
        return Err(gemini_error(
            400,
            "INVALID_ARGUMENT",
            "* GenerateContentRequest.contents: contents is not specified",
        ));
    };
    for (i, c) in contents.iter().enumerate() {
        let role = c.get("role").and_then(Value::as_str).unwrap_or("user");
        if role != "user" && role != "model" {
            return Err(gemini_error(
                400,
                "INVALID_ARGUMENT",
                &format!("Please use a valid role: user, model. (contents[{i}].role = {role:?})"),
            ));
        }
    }
    if model == MISSING_MODEL {
        return Err(gemini_error(404, "NOT_FOUND", "models/missing-model is not found for API version v1beta, or is not supported for generateContent."));
    }
    Ok(Route {
        stream,
        model: model.to_owned(),
    })
}
