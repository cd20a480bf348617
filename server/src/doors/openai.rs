//! The OpenAI door: `POST /v1/chat/completions` (streamed and not) and `GET /v1/models`, in
//! Chat Completions' format whatever vendor answers.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use concord::openai::serve;
use concord::{Error, ErrorKind, Provider, StreamEvent};
use concord_models::Metered;
use futures_util::StreamExt;
use serde_json::{json, Value};

use super::{bearer, caller, json, with_retry_after};
use crate::route::{route, Route};
use crate::Server;

/// An error as an OpenAI client reads it.
pub(crate) fn error(e: &Error) -> Response {
    let message = if e.provider == "concord" {
        e.message.clone()
    } else {
        format!("{}: {}", e.provider, e.message)
    };
    let (status, body) = serve::error(e.kind, &message, None);
    with_retry_after(json(status, &body), e)
}

fn bad_request(b: &concord::serve::BadRequest) -> Response {
    let (status, body) = serve::error(ErrorKind::InvalidRequest, &b.message, b.param.as_deref());
    json(status, &body)
}

/// The error for a body that could not be read (413 past the limit), with axum's status.
pub(crate) fn body_error(rejection: BytesRejection) -> Response {
    let (_, body) = serve::error(ErrorKind::InvalidRequest, &rejection.body_text(), None);
    json(rejection.status().as_u16(), &body)
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A response id for an answer whose vendor gave none.
fn response_id(vendor: &str) -> String {
    if vendor.is_empty() {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("chatcmpl-concord{n:x}")
    } else {
        vendor.to_owned()
    }
}

/// The headers every answer carries: which provider served it, and a deprecation.
fn route_headers(headers: &mut HeaderMap, r: &Route) {
    if let Ok(v) = HeaderValue::from_str(&r.name) {
        headers.insert("x-concord-provider", v);
    }
    if let Some((why, replaced_by)) = &r.deprecated {
        headers.insert("deprecation", HeaderValue::from_static("true"));
        if let Some(v) = replaced_by
            .as_deref()
            .and_then(|r| HeaderValue::from_str(r).ok())
        {
            headers.insert("x-concord-replaced-by", v);
        }
        if let Ok(v) = HeaderValue::from_str(why) {
            headers.insert("warning", v);
        }
    }
}

/// `POST /v1/chat/completions`.
pub(crate) async fn chat_completions(
    State(server): State<Arc<Server>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let tenant = match caller(&server.tenants, bearer(&headers)) {
        Ok(t) => t,
        Err(e) => return error(&e),
    };
    let body = match body {
        Ok(b) => b,
        Err(rejection) => return body_error(rejection),
    };
    let incoming = match serve::decode_request(&body) {
        Ok(i) => i,
        Err(b) => return bad_request(&b),
    };
    let r = match route(
        &server.registry,
        &server.models,
        incoming.model.as_deref(),
        tenant.default_model.as_deref(),
    ) {
        Ok(r) => r,
        Err(e) => return error(&e),
    };
    let ctx = r.context(&server.models, &tenant.name);
    let metered = Metered::new(
        r.provider.clone(),
        server.models.clone(),
        server.recorder.clone(),
    )
    .listed_as(r.name.clone());
    let mut response = if incoming.stream {
        stream(metered, incoming, ctx).await
    } else {
        match metered.generate(&incoming.request, &ctx).await {
            Ok(answer) => {
                let mut resp = json(
                    200,
                    &serve::encode_response(
                        &answer,
                        &response_id(&answer.id),
                        &answer.model,
                        now_secs(),
                    ),
                );
                let prices = server.models.get(&r.name, &r.model).map(|m| m.prices);
                if let Some(c) = prices.and_then(|p| concord_models::cost(&answer.usage, &p)) {
                    if let Ok(v) = HeaderValue::from_str(&c.total.dollars()) {
                        resp.headers_mut().insert("x-concord-cost-usd", v);
                    }
                }
                resp
            }
            Err(e) => error(&e),
        }
    };
    route_headers(response.headers_mut(), &r);
    response
}

/// A streamed answer: the first event is awaited before answering, so an error before any
/// output is an HTTP error (and the dispatcher's retry and fallback have had their turn);
/// after it, every event is re-encoded as it comes, and an error ends the stream with an
/// error chunk, never a clean `[DONE]`.
async fn stream(
    metered: Metered<concord_registry::Handle>,
    incoming: serve::Incoming,
    ctx: concord::RuntimeContext,
) -> Response {
    let mut events = match metered.stream(&incoming.request, &ctx).await {
        Ok(s) => s,
        Err(e) => return error(&e),
    };
    let first = match events.next().await {
        Some(Ok(event)) => event,
        Some(Err(e)) => return error(&e),
        None => {
            return error(&Error::new(
                ErrorKind::StreamInterrupted,
                "concord",
                "the provider's stream ended before it began",
            ))
        }
    };
    let (id, model) = match &first {
        StreamEvent::Start { id, model } => (response_id(id), model.clone()),
        _ => (response_id(""), ctx.model.clone().unwrap_or_default()),
    };
    let mut encoder = serve::ChunkEncoder::new(&id, &model, now_secs(), incoming.include_usage);
    let body = futures_util::stream::once(async move { Ok(first) })
        .chain(events)
        .scan(false, move |ended, item| {
            if *ended {
                return std::future::ready(None);
            }
            let out = match item {
                Ok(event) => {
                    let finished = matches!(event, StreamEvent::Finish { .. });
                    let mut text = String::new();
                    for chunk in encoder.event(&event) {
                        text.push_str(&format!("data: {chunk}\n\n"));
                    }
                    if finished {
                        *ended = true;
                        text.push_str(&format!("data: {}\n\n", serve::DONE));
                    }
                    text
                }
                Err(e) => {
                    *ended = true;
                    let message = format!("{}: {}", e.provider, e.message);
                    let (_, body) = serve::error(e.kind, &message, None);
                    format!("data: {body}\n\n")
                }
            };
            std::future::ready(Some(Ok::<_, std::convert::Infallible>(Bytes::from(out))))
        });
    let mut r = Response::new(Body::from_stream(body));
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    r
}

/// `GET /v1/models`: the model database's usable models of registered providers, as
/// `provider/model` (the name a request may use; the bare id works too when unambiguous).
pub(crate) async fn models(State(server): State<Arc<Server>>, headers: HeaderMap) -> Response {
    if let Err(e) = caller(&server.tenants, bearer(&headers)) {
        return error(&e);
    }
    let today = concord_models::today();
    let data: Vec<Value> = server
        .models
        .all()
        .into_iter()
        .filter(|m| server.registry.contains(&m.provider))
        .filter(|m| {
            !matches!(
                server.models.verdict(&m.provider, &m.id, &today),
                concord_models::Verdict::Refuse(_)
            )
        })
        .map(|m| json!({"id": m.key(), "object": "model", "created": 0, "owned_by": m.provider}))
        .collect();
    json(200, &json!({"object": "list", "data": data}))
}
