//! Gemini `generateContent`, as the Gemini API (and Vertex) check it: `…/models/{model}:{method}`
//! with `alt=sse` for streams, the key in `x-goog-api-key` (never `?key=`), non-empty `contents`
//! of user/model turns.

use serde_json::{json, Value};

use super::{content_text, last_turn, turns, Incoming, Rejection, Route, MISSING_MODEL};

fn error(status: u16, grpc: &str, message: &str) -> Rejection {
    Rejection {
        status,
        body: json!({"error": {"code": status, "message": message, "status": grpc}}),
    }
}

pub(super) fn validate(req: &Incoming<'_>) -> Result<Route, Rejection> {
    let route = req
        .path
        .rsplit_once("/models/")
        .and_then(|(_, rest)| rest.split_once(':'));
    let Some((model, method)) = route.filter(|_| req.is_post()) else {
        return Err(error(
            404,
            "NOT_FOUND",
            &format!("Not found: {} {}", req.method, req.path),
        ));
    };
    let query = req.query.unwrap_or_default();
    if query.split('&').any(|p| p.starts_with("key=")) {
        return Err(error(
            400,
            "INVALID_ARGUMENT",
            "API keys in the URL are not accepted by this mock: send x-goog-api-key",
        ));
    }
    let stream = match method {
        "generateContent" => false,
        "streamGenerateContent" if query.split('&').any(|p| p == "alt=sse") => true,
        "streamGenerateContent" => {
            return Err(error(
                400,
                "INVALID_ARGUMENT",
                "this mock serves streamGenerateContent as SSE only: add ?alt=sse",
            ))
        }
        other => {
            return Err(error(
                404,
                "NOT_FOUND",
                &format!("Method not found: {other}"),
            ))
        }
    };
    if !req.key_ok(super::key_headers(crate::Protocol::Gemini)) {
        return Err(error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        ));
    }
    let Some(contents) = turns(req.body, "contents") else {
        return Err(error(
            400,
            "INVALID_ARGUMENT",
            "* GenerateContentRequest.contents: contents is not specified",
        ));
    };
    for (i, c) in contents.iter().enumerate() {
        let role = c.get("role").and_then(Value::as_str).unwrap_or("user");
        if role != "user" && role != "model" {
            return Err(error(
                400,
                "INVALID_ARGUMENT",
                &format!("Please use a valid role: user, model. (contents[{i}].role = {role:?})"),
            ));
        }
    }
    if model == MISSING_MODEL {
        return Err(error(404, "NOT_FOUND", "models/missing-model is not found for API version v1beta, or is not supported for generateContent."));
    }
    Ok(Route {
        stream,
        model: model.to_owned(),
        prompt: content_text(last_turn(req.body, "contents", "user").and_then(|m| m.get("parts"))),
    })
}
