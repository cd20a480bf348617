//! The Anthropic door: `POST /v1/messages` (streamed and not), in Messages' format whatever
//! vendor answers. The key comes in `x-api-key` (Anthropic's clients) or `Authorization: Bearer`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use concord::anthropic::serve;
use concord::{Error, ErrorKind, Provider, StreamEvent};
use futures_util::StreamExt;
use tracing::Instrument;

use super::openai::message;
use super::{
    api_key, caller, cost_header, event_stream, first_event, json, overhead_header, prepare,
    response_id, route_headers, with_retry_after,
};
use crate::Server;

/// An error as an Anthropic client reads it.
fn error(e: &Error) -> Response {
    let (status, body) = serve::error(e.kind, &message(e));
    with_retry_after(json(super::status_of(e, status), &body), e)
}

/// `POST /v1/messages`.
pub(crate) async fn messages(
    State(server): State<Arc<Server>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = std::time::Instant::now();
    let tenant = match caller(&server.tenants, api_key(&headers)) {
        Ok(t) => t,
        Err(e) => return error(&e),
    };
    let body = match body {
        Ok(b) => b,
        Err(rejection) => {
            let status = rejection.status().as_u16();
            let (_, mut body) = serve::error(ErrorKind::InvalidRequest, &rejection.body_text());
            if status == 413 {
                body["error"]["type"] = "request_too_large".into();
            }
            return json(status, &body);
        }
    };
    let incoming = match serve::decode_request(&body) {
        Ok(i) => i,
        Err(b) => {
            let (status, body) = serve::error(ErrorKind::InvalidRequest, &b.message);
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
                    stream(first, rest, &call.ctx)
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
                let id = response_id("msg_", &answer.id);
                let mut r = json(200, &serve::encode_response(&answer, &id, &answer.model));
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

/// Every event re-encoded as it comes; an error ends the stream with an `error` event, never
/// a clean `message_stop`.
fn stream(
    first: StreamEvent,
    rest: concord::EventStream,
    ctx: &concord::RuntimeContext,
) -> Response {
    let (id, model) = match &first {
        StreamEvent::Start { id, model } => (response_id("msg_", id), model.clone()),
        _ => (
            response_id("msg_", ""),
            ctx.model.clone().unwrap_or_default(),
        ),
    };
    let mut encoder = serve::EventEncoder::new(&id, &model);
    let frames = futures_util::stream::once(async move { Ok(first) })
        .chain(rest)
        .scan(false, move |ended, item| {
            if *ended {
                return std::future::ready(None);
            }
            let mut text = String::new();
            match item {
                Ok(event) => {
                    for (name, data) in encoder.event(&event) {
                        text.push_str(&format!("event: {name}\ndata: {data}\n\n"));
                    }
                    if matches!(event, StreamEvent::Finish { .. }) {
                        *ended = true;
                    }
                }
                Err(e) => {
                    *ended = true;
                    let (_, body) = serve::error(e.kind, &message(&e));
                    text.push_str(&format!("event: error\ndata: {body}\n\n"));
                }
            }
            std::future::ready(Some(Ok(Bytes::from(text))))
        });
    event_stream(frames)
}
