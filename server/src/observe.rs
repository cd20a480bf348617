//! `GET /metrics`: everything the `metrics` facade collected in this process, as Prometheus
//! text — the dispatcher's (`gen_ai.client.operation.duration`, `gen_ai.client.token.usage`,
//! queue depth, waits, rejections by reason, breaker state: see `concord_dispatch::metrics`),
//! the model database's spend by tenant, provider and model, and the server's own:
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `concord_server_requests_total` | counter | `route`, `status` |
//! | `concord_server_request_duration_seconds` | histogram (to the response's head) | `route` |
//! | `gen_ai.server.request.duration` | histogram, seconds (routing to the last event) | `gen_ai.provider.name`, `gen_ai.request.model`, `gen_ai.operation.name`, `error.type` on failure (`cancelled` for a client gone) |
//! | `gen_ai.server.time_to_first_token` | histogram, seconds | `gen_ai.provider.name`, `gen_ai.request.model` |
//! | `concord_recorder_dropped_total` | counter | — |
//!
//! Prometheus names have no dots: they become underscores in the text. No label carries a
//! key, a prompt or anything a client sent but a model name and the route.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::Server;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's Prometheus recorder, installed the first time (`None` when the program
/// installed another recorder of its own: then it exports the metrics its way).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                    60.0,
                ])
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            Some(handle)
        })
        .as_ref()
}

/// `GET /metrics`.
pub(crate) async fn render(State(server): State<Arc<Server>>) -> Response {
    let Some(handle) = handle() else {
        let mut r = Response::new(axum::body::Body::from(
            "this program installed a metrics recorder of its own; it exports them\n",
        ));
        *r.status_mut() = http::StatusCode::NOT_IMPLEMENTED;
        return r;
    };
    // A counter that only ever grows, read from the recorder when asked.
    metrics::counter!("concord_recorder_dropped_total").absolute(server.recorder.dropped());
    let mut r = Response::new(axum::body::Body::from(handle.render()));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

/// Counts every request by route and status, and times it to its response's head.
pub(crate) async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("concord_server_requests_total", "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("concord_server_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// A stream's time to its first event.
pub(crate) fn time_to_first_token(provider: &str, model: &str, took: Duration) {
    metrics::histogram!(
        "gen_ai.server.time_to_first_token",
        "gen_ai.provider.name" => provider.to_owned(),
        "gen_ai.request.model" => model.to_owned()
    )
    .record(took.as_secs_f64());
}

/// `gen_ai.server.request.duration`, kept around every call the server makes, whether or not
/// its provider has a dispatcher (whose `gen_ai.client.*` series measure the vendor's side);
/// and, for a tenant with a tokens-per-minute limit, the call's tokens counted against it
/// when it ends.
pub(crate) struct CallTimer {
    /// The server and the tenant's tokens per minute, when it has a limit.
    pub tokens: Option<(Arc<Server>, u64)>,
}

/// A call being timed.
pub(crate) struct CallTicket {
    provider: String,
    model: String,
    started: Instant,
    tokens: Option<(Arc<Server>, u64, String)>,
}

impl concord_dispatch::hook::Hook for CallTimer {
    type Ticket = CallTicket;

    fn enter<'a>(
        &'a self,
        provider: &'a str,
        _request: &'a concord::Request,
        ctx: &'a concord::RuntimeContext,
    ) -> impl std::future::Future<Output = concord::Result<CallTicket>> + Send + 'a {
        std::future::ready(Ok(CallTicket {
            provider: provider.to_owned(),
            model: ctx.model.clone().unwrap_or_default(),
            started: Instant::now(),
            tokens: self
                .tokens
                .clone()
                .and_then(|(server, tpm)| Some((server, tpm, ctx.tenant.clone()?))),
        }))
    }

    fn finish(ticket: CallTicket, outcome: concord_dispatch::hook::Outcome<'_>) {
        use concord_dispatch::hook::Outcome;
        let took = ticket.started.elapsed().as_secs_f64();
        if let (Some((server, tpm, tenant)), Outcome::Answered(Some(u))) =
            (&ticket.tokens, &outcome)
        {
            let n = u
                .total_tokens
                .unwrap_or(u.input_tokens.unwrap_or(0) + u.output_tokens.unwrap_or(0));
            server.tenants.rate_limits().spent(tenant, Some(*tpm), n);
        }
        let error = match outcome {
            Outcome::Answered(_) => None,
            Outcome::Failed(kind) => Some(kind.as_str()),
            Outcome::Dropped => Some("cancelled"),
        };
        match error {
            None => metrics::histogram!(
                "gen_ai.server.request.duration",
                "gen_ai.provider.name" => ticket.provider,
                "gen_ai.request.model" => ticket.model,
                "gen_ai.operation.name" => "chat"
            )
            .record(took),
            Some(kind) => metrics::histogram!(
                "gen_ai.server.request.duration",
                "gen_ai.provider.name" => ticket.provider,
                "gen_ai.request.model" => ticket.model,
                "gen_ai.operation.name" => "chat",
                "error.type" => kind
            )
            .record(took),
        }
    }
}

/// The span of one call, with the OpenTelemetry gen_ai attributes: provider, model, and — as
/// the call ends — the response's model, usage, finish reason or error type. Through `tracing`;
/// the `concord` binary exports spans over OTLP when built with its `otlp` feature. It names
/// the tenant, never a key or a prompt.
pub(crate) fn call_span(route: &crate::route::Route, tenant: &str, stream: bool) -> tracing::Span {
    tracing::info_span!(
        "chat",
        otel.name = %format!("chat {}", route.model),
        otel.kind = "client",
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = %route.name,
        gen_ai.request.model = %route.model,
        gen_ai.response.model = tracing::field::Empty,
        gen_ai.response.finish_reasons = tracing::field::Empty,
        gen_ai.usage.input_tokens = tracing::field::Empty,
        gen_ai.usage.output_tokens = tracing::field::Empty,
        error.type = tracing::field::Empty,
        concord.tenant = %tenant,
        concord.stream = stream,
    )
}

/// Records how a call ended on its span.
pub(crate) fn record_end(
    span: &tracing::Span,
    finish: Option<concord::FinishReason>,
    usage: &concord::Usage,
) {
    if let Some(f) = finish {
        span.record("gen_ai.response.finish_reasons", f.as_str());
    }
    if let Some(n) = usage.input_tokens {
        span.record("gen_ai.usage.input_tokens", n);
    }
    if let Some(n) = usage.output_tokens {
        span.record("gen_ai.usage.output_tokens", n);
    }
}

/// Records a call's answer on its span.
pub(crate) fn record_answer(span: &tracing::Span, answer: &concord::Response) {
    span.record("gen_ai.response.model", answer.model.as_str());
    record_end(span, Some(answer.finish_reason), &answer.usage);
}

/// Records a failure on a call's span.
pub(crate) fn record_error(span: &tracing::Span, e: &concord::Error) {
    span.record("error.type", e.kind.as_str());
}

/// `events`, recording on `span` how the stream ends (the span lives as long as the stream).
pub(crate) fn trace_events(
    events: concord::EventStream,
    span: tracing::Span,
) -> concord::EventStream {
    use futures_util::StreamExt;
    events
        .inspect(move |item| match item {
            Ok(concord::StreamEvent::Start { model, .. }) => {
                span.record("gen_ai.response.model", model.as_str());
            }
            Ok(concord::StreamEvent::Finish {
                finish_reason,
                usage,
                ..
            }) => record_end(&span, Some(*finish_reason), usage),
            Err(e) => record_error(&span, e),
            _ => {}
        })
        .boxed()
}
