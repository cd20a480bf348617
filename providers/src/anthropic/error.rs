//! Messages error bodies: `{"type":"error","error":{"type","message"}}`, over HTTP or as an
//! `error` event in a stream.

use serde_json::Value;

use super::NAME;
use crate::error::{Error, ErrorKind};
use crate::wire::body_snippet;

pub(super) fn decode(status: Option<u16>, body: &[u8]) -> Error {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let Some(err) = parsed.as_ref().and_then(|v| v.get("error")) else {
        let kind = status.map_or(ErrorKind::ServerError, ErrorKind::from_status);
        return Error::new(kind, NAME, body_snippet(body));
    };
    let message = err
        .get("message")
        .and_then(Value::as_str)
        .map_or_else(|| err.to_string(), str::to_owned);
    let vendor_type = err.get("type").and_then(Value::as_str).unwrap_or_default();
    let kind = ErrorKind::from_vendor(status, &[vendor_type], &message, ErrorKind::ServerError);
    let mut error = Error::new(kind, NAME, message);
    error.status = status;
    error.request_id = parsed
        .as_ref()
        .and_then(|v| v.get("request_id"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    error
}
