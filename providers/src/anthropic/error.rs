//! Messages error bodies: `{"type":"error","error":{"type","message"},"request_id"}`, over HTTP
//! or as an `error` event in a stream.

use serde_json::Value;

use crate::error::{Error, ErrorKind};
use crate::kit::{error_message, error_without_body};

/// What Anthropic's error `type` names (docs: 'Errors').
fn named_kind(vendor_type: &str, message: &str) -> Option<ErrorKind> {
    let kind = match vendor_type {
        "invalid_request_error" => ErrorKind::InvalidRequest,
        "authentication_error" => ErrorKind::Authentication,
        "permission_error" => ErrorKind::PermissionDenied,
        "not_found_error" => ErrorKind::NotFound,
        "request_too_large" => ErrorKind::ContextLengthExceeded,
        "rate_limit_error" => ErrorKind::RateLimited,
        "api_error" => ErrorKind::ServerError,
        "overloaded_error" => ErrorKind::Overloaded,
        "timeout_error" => ErrorKind::Timeout,
        "billing_error" => ErrorKind::QuotaExceeded,
        other => return ErrorKind::from_name(other),
    };
    // A prompt over the context window is an `invalid_request_error` whose message says so.
    let too_long = message.to_ascii_lowercase().contains("prompt is too long");
    Some(match kind {
        ErrorKind::InvalidRequest if too_long => ErrorKind::ContextLengthExceeded,
        kind => kind,
    })
}

pub(super) fn decode(provider: &str, status: Option<u16>, body: &[u8]) -> Error {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let Some(err) = parsed.as_ref().and_then(|v| v.get("error")) else {
        return error_without_body(provider, status, body);
    };
    let message = error_message(err);
    let vendor_type = err.get("type").and_then(Value::as_str).unwrap_or_default();
    let kind = ErrorKind::from_parts(
        named_kind(vendor_type, &message),
        status,
        ErrorKind::ServerError,
    );
    let mut error = Error::new(kind, provider, message);
    error.status = status;
    error.request_id = parsed
        .as_ref()
        .and_then(|v| v.get("request_id"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    error
}
