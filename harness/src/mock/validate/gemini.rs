//! Gemini `generateContent`, as the Gemini API (and Vertex) check it: `…/models/{model}:{method}`
//! with `alt=sse` for streams, the key in `x-goog-api-key` (never `?key=`), non-empty `contents`
//! of user/model turns, and schemas in the field that takes them: `responseSchema` and a function's
//! `parameters` are the API's own `Schema` message, which refuses JSON Schema's other keywords
//! (`additionalProperties`, `$schema`, `const`…) the way the real API does ("Unknown name … Cannot
//! find field", as quoted in glowingjade/obsidian-smart-composer#455 and ax-llm/ax#293);
//! `responseJsonSchema` and `parametersJsonSchema` take JSON Schema, and each pair is exclusive.

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
        return Err(unauthorized());
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
    schemas(req.body).map_err(|m| error(400, "INVALID_ARGUMENT", &m))?;
    if model == MISSING_MODEL {
        return Err(error(404, "NOT_FOUND", "models/missing-model is not found for API version v1beta, or is not supported for generateContent."));
    }
    Ok(Route {
        stream,
        model: model.to_owned(),
        prompt: content_text(last_turn(req.body, "contents", "user").and_then(|m| m.get("parts"))),
    })
}

/// The fields of the API's `Schema` message (ai.google.dev/api/caching#Schema); any other key is
/// an unknown proto field to the real API.
const SCHEMA_FIELDS: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "anyOf",
    "propertyOrdering",
    "default",
    "items",
    "minimum",
    "maximum",
];

fn schemas(body: &Value) -> Result<(), String> {
    let generation = &body["generationConfig"];
    exclusive(
        generation,
        "responseSchema",
        "responseJsonSchema",
        "generation_config",
    )?;
    if let Some(schema) = generation.get("responseSchema") {
        proto_schema(schema, "generation_config.response_schema")?;
    }
    if generation.get("responseJsonSchema").is_some()
        && generation["responseMimeType"].as_str() != Some("application/json")
    {
        return Err(
            "generation_config.response_json_schema needs response_mime_type application/json"
                .into(),
        );
    }
    let tools = body["tools"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (t, tool) in tools.iter().enumerate() {
        let declarations = tool["functionDeclarations"].as_array();
        for (f, decl) in declarations.into_iter().flatten().enumerate() {
            let at = format!("tools[{t}].function_declarations[{f}]");
            exclusive(decl, "parameters", "parametersJsonSchema", &at)?;
            if let Some(schema) = decl.get("parameters") {
                proto_schema(schema, &format!("{at}.parameters"))?;
            }
        }
    }
    Ok(())
}

fn exclusive(parent: &Value, proto: &str, json: &str, at: &str) -> Result<(), String> {
    if parent.get(proto).is_some() && parent.get(json).is_some() {
        return Err(format!("{at}: {proto} and {json} are mutually exclusive"));
    }
    Ok(())
}

fn proto_schema(schema: &Value, at: &str) -> Result<(), String> {
    let Some(fields) = schema.as_object() else {
        return Err(format!(
            "Invalid value at '{at}': a Schema must be an object"
        ));
    };
    for (key, value) in fields {
        if !SCHEMA_FIELDS.contains(&key.as_str()) {
            return Err(format!(
                "Invalid JSON payload received. Unknown name {key:?} at '{at}': Cannot find field."
            ));
        }
        match key.as_str() {
            "type" if !value.is_string() => {
                return Err(format!(
                    "Invalid JSON payload received. Unknown name \"type\" at '{at}': Proto field is not repeating, cannot start list."
                ))
            }
            "properties" => {
                for (i, property) in value.as_object().into_iter().flatten().enumerate() {
                    proto_schema(property.1, &format!("{at}.properties[{i}].value"))?;
                }
            }
            "items" => proto_schema(value, &format!("{at}.items"))?,
            "anyOf" => {
                for (i, option) in value.as_array().into_iter().flatten().enumerate() {
                    proto_schema(option, &format!("{at}.any_of[{i}]"))?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Google's refusal of a missing or wrong key.
pub(super) fn unauthorized() -> Rejection {
    error(
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials.",
    )
}
