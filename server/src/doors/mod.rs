//! The doors a client comes in by. Each reads its format's request into concord's `Request`
//! (the codecs are `concord::openai::serve` and `concord::anthropic::serve`, beside the client
//! side they mirror), routes it, calls through the model database's metering, and answers in
//! its own format — whatever vendor answered. What they share is here: who is calling, and
//! an error in the door's shape with `Retry-After`.

pub mod openai;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use concord::{Error, ErrorKind};

use crate::tenants::{Auth, Tenant};

/// A response with a JSON body.
pub(crate) fn json(status: u16, body: &serde_json::Value) -> Response {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// `Retry-After` in whole seconds, rounded up (a client waiting less would be refused again).
pub(crate) fn retry_after(after: Duration) -> HeaderValue {
    let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
    HeaderValue::from(secs.max(1))
}

/// Who holds the key a request presents: `Err` is the error to answer with.
pub(crate) fn caller(
    tenants: &crate::tenants::Tenants,
    key: Option<&str>,
) -> Result<Arc<Tenant>, Error> {
    let key = key.filter(|k| !k.is_empty()).ok_or_else(|| {
        Error::new(
            ErrorKind::Authentication,
            "concord",
            "no API key: send one as `Authorization: Bearer <key>` (a tenant's key, from `concord tenants create`)",
        )
    })?;
    match tenants.authenticate(key) {
        Auth::Tenant(t) => Ok(t),
        Auth::Disabled(name) => Err(Error::new(
            ErrorKind::PermissionDenied,
            "concord",
            format!("the tenant {name} is disabled"),
        )),
        // The key is not echoed: it may be a real secret sent to the wrong place.
        Auth::Unknown => Err(Error::new(
            ErrorKind::Authentication,
            "concord",
            "the API key is not valid here",
        )),
    }
}

/// The bearer token of `Authorization`.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Adds the headers an error carries: `Retry-After` when the error says when to come back.
pub(crate) fn with_retry_after(mut r: Response, e: &Error) -> Response {
    if let Some(after) = e.retry_after {
        r.headers_mut()
            .insert(http::header::RETRY_AFTER, retry_after(after));
    }
    r
}
