//! Gemini error bodies: `{"error":{"code","message","status","details"}}`, with the retry delay
//! of a `google.rpc.RetryInfo` detail.

use serde_json::Value;

use super::NAME;
use crate::error::{Error, ErrorKind};
use crate::wire::{body_snippet, parse_proto_duration};

pub(super) fn decode(status: Option<u16>, body: &[u8]) -> Error {
    // A streamed error may arrive as a one-element array of error objects.
    let parsed: Option<Value> = serde_json::from_slice(body).ok().map(|v: Value| match v {
        Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
        other => other,
    });
    match parsed.as_ref().and_then(|v| v.get("error")) {
        Some(err) => from_object(status, err),
        None => {
            let kind = status.map_or(ErrorKind::ServerError, ErrorKind::from_status);
            Error::new(kind, NAME, body_snippet(body))
        }
    }
}

pub(super) fn from_object(status: Option<u16>, err: &Value) -> Error {
    let message = err
        .get("message")
        .and_then(Value::as_str)
        .map_or_else(|| err.to_string(), str::to_owned);
    let grpc_status = err
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let status = status.or_else(|| {
        err.get("code")
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
    });
    let kind = ErrorKind::from_vendor(status, &[grpc_status], &message, ErrorKind::ServerError);
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
    let mut error = Error::new(kind, NAME, message).with_retry_after(retry_after);
    error.status = status;
    error
}
