//! Gemini error bodies: `{"error":{"code","message","status","details"}}`, with the retry delay
//! of a `google.rpc.RetryInfo` detail.

use serde_json::Value;

use crate::error::{Error, ErrorKind};
use crate::kit::{error_message, error_without_body};
use crate::wire::parse_proto_duration;

pub(super) fn decode(provider: &str, status: Option<u16>, body: &[u8]) -> Error {
    // A streamed error may arrive as a one-element array of error objects.
    let parsed: Option<Value> = serde_json::from_slice(body).ok().map(|v: Value| match v {
        Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
        other => other,
    });
    match parsed.as_ref().and_then(|v| v.get("error")) {
        Some(err) if err.is_object() => from_object(provider, status, err),
        _ => error_without_body(provider, status, body),
    }
}

/// What a `google.rpc.Code` name in `status` says (the B5 table).
fn named_kind(grpc_status: &str, message: &str) -> Option<ErrorKind> {
    let kind = match grpc_status {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => ErrorKind::InvalidRequest,
        "UNAUTHENTICATED" => ErrorKind::Authentication,
        "PERMISSION_DENIED" => ErrorKind::PermissionDenied,
        "NOT_FOUND" => ErrorKind::NotFound,
        "RESOURCE_EXHAUSTED" => ErrorKind::RateLimited,
        "UNAVAILABLE" => ErrorKind::Overloaded,
        "INTERNAL" | "UNKNOWN" => ErrorKind::ServerError,
        "DEADLINE_EXCEEDED" => ErrorKind::ServerError,
        _ => return None,
    };
    // "The input token count (…) exceeds the maximum number of tokens allowed (…)".
    let lower = message.to_ascii_lowercase();
    let too_long = lower.contains("exceeds the maximum number of tokens")
        || (lower.contains("input token count") && lower.contains("exceeds the maximum"));
    Some(match kind {
        ErrorKind::InvalidRequest if too_long => ErrorKind::ContextLengthExceeded,
        kind => kind,
    })
}

pub(super) fn from_object(provider: &str, status: Option<u16>, err: &Value) -> Error {
    let message = error_message(err);
    let grpc_status = err
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let status = status.or_else(|| {
        err.get("code")
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
    });
    let kind = ErrorKind::from_parts(
        named_kind(grpc_status, &message),
        status,
        ErrorKind::ServerError,
    );
    let retry_after = err
        .get("details")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|d| {
            d.get("@type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.ends_with("google.rpc.RetryInfo"))
        })
        .find_map(|d| parse_proto_duration(d.get("retryDelay")?.as_str()?));
    let mut error = Error::new(kind, provider, message).with_retry_after(retry_after);
    error.status = status;
    error
}
