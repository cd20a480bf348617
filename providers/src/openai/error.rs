//! Chat Completions error bodies: `{"error":{"message","type","param","code"}}`, over HTTP or
//! inside a `data:` frame. The Responses API uses the same object.

use serde_json::Value;

use crate::error::{Error, ErrorKind};
use crate::kit::{error_message, error_without_body};

/// The error for `body` (a whole error answer, or one in-stream `data:` payload).
pub(crate) fn decode(provider: &str, status: Option<u16>, body: &[u8]) -> Error {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    match parsed.as_ref().and_then(|v| v.get("error")) {
        Some(err) if err.is_object() => from_object(provider, status, err),
        _ => error_without_body(provider, status, body),
    }
}

/// What OpenAI's `type` and `code` strings (and those of the servers that copy them) name.
fn named_kind(codes: &[&str], message: &str) -> Option<ErrorKind> {
    let by_code = codes.iter().find_map(|code| {
        Some(match *code {
            "insufficient_quota" => ErrorKind::QuotaExceeded,
            // Azure: `code: content_filter`, `innererror.code: ResponsibleAIPolicyViolation`.
            "content_filter" | "ResponsibleAIPolicyViolation" => ErrorKind::ContentFilter,
            "context_length_exceeded" | "string_above_max_length" => {
                ErrorKind::ContextLengthExceeded
            }
            "invalid_request_error" | "invalid_request" => ErrorKind::InvalidRequest,
            "invalid_api_key" | "authentication_error" => ErrorKind::Authentication,
            "permission_error" => ErrorKind::PermissionDenied,
            "model_not_found" | "not_found_error" => ErrorKind::NotFound,
            "rate_limit_exceeded" | "rate_limit_error" => ErrorKind::RateLimited,
            "server_error" | "api_error" => ErrorKind::ServerError,
            "overloaded_error" => ErrorKind::Overloaded,
            other => return ErrorKind::from_name(other),
        })
    });
    let lower = message.to_ascii_lowercase();
    let too_long = lower.contains("maximum context length")
        || lower.contains("context length")
        || lower.contains("context window");
    match by_code {
        Some(ErrorKind::InvalidRequest) | None if too_long => {
            Some(ErrorKind::ContextLengthExceeded)
        }
        other => other,
    }
}

/// The error for the value of an `"error"` field.
pub(crate) fn from_object(provider: &str, status: Option<u16>, err: &Value) -> Error {
    let message = error_message(err);
    let code = err.get("code");
    let code_text = code.and_then(Value::as_str).unwrap_or_default();
    let kind_text = err.get("type").and_then(Value::as_str).unwrap_or_default();
    let inner_code = err
        .pointer("/innererror/code")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // In-stream errors have no HTTP status; OpenRouter puts one in a numeric `code` (Azure in a
    // string one: `"429"`).
    let status = status.or_else(|| {
        code.and_then(|c| c.as_u64().or_else(|| c.as_str()?.parse().ok()))
            .and_then(|c| u16::try_from(c).ok())
            .filter(|c| (100..600).contains(c))
    });
    let kind = ErrorKind::from_parts(
        named_kind(&[code_text, inner_code, kind_text], &message),
        status,
        ErrorKind::ServerError,
    );
    let mut error = Error::new(kind, provider, message);
    error.status = status;
    error
}
