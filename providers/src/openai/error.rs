//! Chat Completions error bodies: `{"error":{"message","type","param","code"}}`, over HTTP or
//! inside a `data:` frame.

use serde_json::Value;

use crate::error::{Error, ErrorKind};
use crate::wire::body_snippet;

/// The error for `body` (a whole error answer, or one in-stream `data:` payload).
pub(super) fn decode(provider: &str, status: Option<u16>, body: &[u8]) -> Error {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    match parsed.as_ref().and_then(|v| v.get("error")) {
        Some(err) => from_object(provider, status, err),
        None => {
            let kind = status.map_or(ErrorKind::ServerError, ErrorKind::from_status);
            Error::new(kind, provider, body_snippet(body))
        }
    }
}

/// The error for the value of an `"error"` field.
pub(super) fn from_object(provider: &str, status: Option<u16>, err: &Value) -> Error {
    let message = err
        .get("message")
        .and_then(Value::as_str)
        .map_or_else(|| err.to_string(), str::to_owned);
    let code = err.get("code");
    let code_text = code.and_then(Value::as_str).unwrap_or_default();
    let kind_text = err.get("type").and_then(Value::as_str).unwrap_or_default();
    // In-stream errors have no HTTP status; OpenRouter puts one in a numeric `code`.
    let status = status.or_else(|| {
        code.and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
    });
    let kind = ErrorKind::from_vendor(
        status,
        &[code_text, kind_text],
        &message,
        ErrorKind::ServerError,
    );
    let mut error = Error::new(kind, provider, message);
    error.status = status;
    error
}
