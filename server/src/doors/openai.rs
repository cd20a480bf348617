//! The OpenAI door: `POST /v1/chat/completions` (streamed and not) and `GET /v1/models`, in
//! Chat Completions' format whatever vendor answers.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use concord::openai::serve;
use concord::{Error, ErrorKind, Provider, StreamEvent};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tracing::Instrument;

use super::{
    bearer, caller, cost_header, event_stream, first_event, json, now_secs, overhead_header,
    prepare, response_id, route_headers, with_retry_after,
};
use crate::Server;

/// An error as an OpenAI client reads it.
pub(crate) fn error(e: &Error) -> Response {
    let (status, body) = serve::error(e.kind, &message(e), None);
    with_retry_after(json(super::status_of(e, status), &body), e)
}

/// What a client is told: ours as it is, a provider's with the provider named.
pub(crate) fn message(e: &Error) -> String {
    if e.provider == "concord" {
        e.message.clone()
    } else {
        format!("{}: {}", e.provider, e.message)
    }
}

/// The error for a body that could not be read (413 past the limit), with axum's status.
pub(crate) fn body_error(rejection: BytesRejection) -> Response {
    let (_, body) = serve::error(ErrorKind::InvalidRequest, &rejection.body_text(), None);
    json(rejection.status().as_u16(), &body)
}

/// `POST /v1/chat/completions`.
pub(crate) async fn chat_completions(
    State(server): State<Arc<Server>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = std::time::Instant::now();
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
        Err(b) => {
            let (status, body) =
                serve::error(ErrorKind::InvalidRequest, &b.message, b.param.as_deref());
            return json(status, &body);
        }
    };
    let runtime = match server.users.of_call(&tenant, &headers).await {
        Ok(r) => r,
        Err(e) => return error(&e),
    };
    let call = match prepare(
        &server,
        &tenant,
        incoming.model.as_deref(),
        runtime.as_deref(),
        &incoming.request,
        body.len(),
    )
    .await
    {
        Ok(c) => c,
        Err(e) => return error(&e),
    };
    let span = crate::observe::call_span(&call.route, &tenant.name, incoming.stream);
    let mut response = if incoming.stream {
        let asked = std::time::Instant::now();
        let started = call
            .provider
            .stream(&incoming.request, &call.ctx)
            .instrument(span.clone())
            .await;
        match started {
            Ok(events) => match first_event(events).await {
                Ok((first, rest)) => {
                    let rest = crate::observe::trace_events(rest, span.clone());
                    crate::observe::time_to_first_token(
                        &call.served().name,
                        &call.served().model,
                        asked.elapsed(),
                    );
                    stream(first, rest, &call.ctx, incoming.include_usage)
                }
                Err(e) => {
                    crate::observe::record_error(&span, &e);
                    error(&e)
                }
            },
            Err(e) => {
                crate::observe::record_error(&span, &e);
                error(&e)
            }
        }
    } else {
        let answered = call
            .provider
            .generate(&incoming.request, &call.ctx)
            .instrument(span.clone())
            .await;
        if let Err(e) = &answered {
            crate::observe::record_error(&span, e);
        }
        match answered {
            Ok(answer) => {
                crate::observe::record_answer(&span, &answer);
                let id = response_id("chatcmpl-", &answer.id);
                let body = serve::encode_response(&answer, &id, &answer.model, now_secs());
                let mut r = json(200, &body);
                cost_header(r.headers_mut(), &server, call.served(), &answer.usage);
                overhead_header(r.headers_mut(), &call, started);
                r
            }
            Err(e) => error(&e),
        }
    };
    route_headers(response.headers_mut(), call.served());
    response
}

/// Every event re-encoded as it comes; an error ends the stream with an error chunk, never
/// a clean `[DONE]`.
fn stream(
    first: StreamEvent,
    rest: concord::EventStream,
    ctx: &concord::RuntimeContext,
    include_usage: bool,
) -> Response {
    let (id, model) = match &first {
        StreamEvent::Start { id, model } => (response_id("chatcmpl-", id), model.clone()),
        _ => (
            response_id("chatcmpl-", ""),
            ctx.model.clone().unwrap_or_default(),
        ),
    };
    let mut encoder = serve::ChunkEncoder::new(&id, &model, now_secs(), include_usage);
    let frames = futures_util::stream::once(async move { Ok(first) })
        .chain(rest)
        .scan(false, move |ended, item| {
            if *ended {
                return std::future::ready(None);
            }
            let mut text = String::new();
            match item {
                Ok(event) => {
                    for chunk in encoder.event(&event) {
                        text.push_str(&format!("data: {chunk}\n\n"));
                    }
                    if matches!(event, StreamEvent::Finish { .. }) {
                        *ended = true;
                        text.push_str(&format!("data: {}\n\n", serve::DONE));
                    }
                }
                Err(e) => {
                    *ended = true;
                    let (_, body) = serve::error(e.kind, &message(&e), None);
                    text.push_str(&format!("data: {body}\n\n"));
                }
            }
            std::future::ready(Some(Ok(Bytes::from(text))))
        });
    event_stream(frames)
}

/// `GET /v1/models`: the model database's usable models of registered providers, as
/// `provider/model` (the name a request may use; the bare id works too when unambiguous).
pub(crate) async fn models(State(server): State<Arc<Server>>, headers: HeaderMap) -> Response {
    if let Err(e) = caller(&server.tenants, super::api_key(&headers)) {
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
