//! Checks a request the way the vendor would, answering a violation with the vendor's own error
//! body: one module per vendor, each with its routes, auth, body rules and error shape. A mock
//! that accepts anything cannot catch an encoding bug.
//!
//! Routes match on the operation at the end of the path (`…/chat/completions`,
//! `…/models/{model}:generateContent`), so one mock serves every endpoint that carries a wire
//! format: OpenAI's `/v1/…`, Azure's `/openai/v1/…` and `/openai/deployments/{d}/…`, Vertex's
//! `/v1/projects/…/publishers/google/…`.

mod anthropic;
mod gemini;
mod openai;
mod responses;

use serde_json::Value;

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
    /// The model named in the path (Gemini, Azure deployments) or body.
    pub model: String,
    /// The text of the last user turn (for `{{prompt}}`).
    pub prompt: String,
}

pub(crate) struct Incoming<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub header: &'a dyn Fn(&str) -> Option<String>,
    pub body: &'a Value,
    pub expected_key: Option<&'a str>,
    /// The one header the key must arrive in (`authorization` meaning `Bearer`), when the mock
    /// stands for a provider that sends it somewhere other than the protocol's default.
    pub key_header: Option<&'a str>,
}

impl Incoming<'_> {
    /// The key as presented in `name` (`Bearer ` stripped from `authorization`).
    fn key_in(&self, name: &str) -> Option<String> {
        let value = (self.header)(name)?;
        if name.eq_ignore_ascii_case("authorization") {
            return value.strip_prefix("Bearer ").map(str::to_owned);
        }
        Some(value)
    }

    /// The key, from the configured header or else the first of `defaults` that has one.
    pub(crate) fn key(&self, defaults: &[&str]) -> Option<String> {
        match self.key_header {
            Some(name) => self.key_in(name),
            None => defaults.iter().find_map(|n| self.key_in(n)),
        }
    }

    /// Whether the key presented is acceptable: the expected one, or any non-empty one.
    fn key_ok(&self, defaults: &[&str]) -> bool {
        match (self.key(defaults), self.expected_key) {
            (Some(g), Some(e)) => g == e,
            (Some(g), None) => !g.trim().is_empty(),
            (None, _) => false,
        }
    }

    fn is_post(&self) -> bool {
        self.method == "POST"
    }

    fn streams(&self) -> bool {
        self.body
            .get("stream")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

/// The headers a protocol's key may arrive in by default.
pub(crate) fn key_headers(protocol: Protocol) -> &'static [&'static str] {
    match protocol {
        Protocol::Openai | Protocol::OpenaiResponses => &["authorization"],
        Protocol::Anthropic => &["x-api-key", "authorization"],
        Protocol::Gemini => &["x-goog-api-key"],
    }
}

/// The vendor's refusal when the request carries no acceptable key, as its endpoints other
/// than generation (the model list) refuse it too.
pub(crate) fn authenticated(protocol: Protocol, req: &Incoming<'_>) -> Result<(), Rejection> {
    if req.key_ok(key_headers(protocol)) {
        return Ok(());
    }
    Err(match protocol {
        Protocol::Openai | Protocol::OpenaiResponses => openai::unauthorized(),
        Protocol::Anthropic => anthropic::unauthorized(),
        Protocol::Gemini => gemini::unauthorized(),
    })
}

pub(crate) fn validate(protocol: Protocol, req: &Incoming<'_>) -> Result<Route, Rejection> {
    match protocol {
        Protocol::Openai => openai::validate(req),
        Protocol::OpenaiResponses => responses::validate(req),
        Protocol::Anthropic => anthropic::validate(req),
        Protocol::Gemini => gemini::validate(req),
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

/// The text of a message's content: a string, or its parts' `text`s joined.
fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// The last turn with `role` in the array at `list`.
fn last_turn<'a>(body: &'a Value, list: &str, role: &str) -> Option<&'a Value> {
    body.get(list).and_then(Value::as_array).and_then(|m| {
        m.iter()
            .rev()
            .find(|m| m.get("role").and_then(Value::as_str) == Some(role))
    })
}
