//! Deliberately broken servers, one mistake each, the kind the gateways users pick instead
//! have shipped (a field dropped on the way, a cut stream passed on as a clean success, the
//! `Retry-After` lost, a key in the logs, a 500 for a missing key, budgets not enforced,
//! failed calls not recorded, a readiness that looks at nothing, tenants' rate limits not
//! enforced, users' runtimes ignored). Each is concord's server with one layer or one accessor
//! changed; the self-test runs the suite through each and expects exactly its checks to fail.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use futures_util::future::BoxFuture;
use futures_util::StreamExt;

use crate::served::{
    concord_server_factory, concord_server_factory_with, RouterLayer, ServerFactory,
    ServerUnderTest,
};

/// A server's mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerFlaw {
    /// `temperature` is dropped from every request on its way in.
    DropsTemperature,
    /// A stream cut upstream is ended with a clean finish instead of the error event.
    CleanEndOnCut,
    /// `Retry-After` and `retry-after-ms` are lost from refusals.
    LosesRetryAfter,
    /// Every request's key is logged.
    LogsKeys,
    /// A request without a key gets a 500.
    MissingKeyIs500,
    /// Tenants' budgets are never enforced.
    BudgetIgnored,
    /// Failed calls are not recorded.
    FailuresUnrecorded,
    /// `/health/ready` says ready without looking at any provider.
    ReadyWithoutLooking,
    /// Tenants' own rate limits are never enforced.
    TenantLimitsIgnored,
    /// The user a call names (`x-concord-user`) is ignored: their runtime never applies.
    RuntimeIgnored,
}

impl ServerFlaw {
    /// Every flaw.
    pub const ALL: [ServerFlaw; 10] = [
        ServerFlaw::DropsTemperature,
        ServerFlaw::CleanEndOnCut,
        ServerFlaw::LosesRetryAfter,
        ServerFlaw::LogsKeys,
        ServerFlaw::MissingKeyIs500,
        ServerFlaw::BudgetIgnored,
        ServerFlaw::FailuresUnrecorded,
        ServerFlaw::ReadyWithoutLooking,
        ServerFlaw::TenantLimitsIgnored,
        ServerFlaw::RuntimeIgnored,
    ];

    /// A factory of servers with this flaw.
    pub fn factory(self) -> ServerFactory {
        let layer = |f: fn(Request, Next) -> BoxFuture<'static, Response>| -> RouterLayer {
            Arc::new(move |router: axum::Router| router.layer(axum::middleware::from_fn(f)))
        };
        match self {
            ServerFlaw::DropsTemperature => {
                concord_server_factory_with(layer(|r, n| Box::pin(drop_temperature(r, n))))
            }
            ServerFlaw::CleanEndOnCut => {
                concord_server_factory_with(layer(|r, n| Box::pin(clean_end(r, n))))
            }
            ServerFlaw::LosesRetryAfter => {
                concord_server_factory_with(layer(|r, n| Box::pin(lose_retry_after(r, n))))
            }
            ServerFlaw::LogsKeys => {
                concord_server_factory_with(layer(|r, n| Box::pin(log_keys(r, n))))
            }
            ServerFlaw::MissingKeyIs500 => {
                concord_server_factory_with(layer(|r, n| Box::pin(missing_key_500(r, n))))
            }
            ServerFlaw::ReadyWithoutLooking => {
                concord_server_factory_with(layer(|r, n| Box::pin(ready_without_looking(r, n))))
            }
            ServerFlaw::RuntimeIgnored => {
                concord_server_factory_with(layer(|r, n| Box::pin(ignore_user(r, n))))
            }
            ServerFlaw::BudgetIgnored
            | ServerFlaw::FailuresUnrecorded
            | ServerFlaw::TenantLimitsIgnored => {
                let inner = concord_server_factory();
                Arc::new(move |provider| {
                    let start = inner(provider);
                    Box::pin(async move {
                        let inner = start.await?;
                        Ok(Arc::new(Wrapped { inner, flaw: self }) as Arc<dyn ServerUnderTest>)
                    })
                })
            }
        }
    }
}

async fn drop_temperature(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let body = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(mut v) => {
            if let Some(o) = v.as_object_mut() {
                o.remove("temperature");
            }
            Bytes::from(v.to_string())
        }
        Err(_) => bytes,
    };
    let mut parts = parts;
    parts.headers.remove(http::header::CONTENT_LENGTH);
    next.run(Request::from_parts(parts, Body::from(body))).await
}

async fn clean_end(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    // The doors write one event per frame: an error event becomes a clean finish.
    let frames = body.into_data_stream().map(|frame| {
        frame.map(|bytes| {
            let text = String::from_utf8_lossy(&bytes);
            if text.starts_with("data: {\"error\"") {
                Bytes::from_static(b"data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"created\":0,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
            } else if text.starts_with("event: error") {
                Bytes::from_static(b"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":0}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
            } else {
                bytes
            }
        })
    });
    Response::from_parts(parts, Body::from_stream(frames))
}

async fn lose_retry_after(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response.headers_mut().remove(http::header::RETRY_AFTER);
    response.headers_mut().remove("retry-after-ms");
    response
}

async fn log_keys(request: Request, next: Next) -> Response {
    {
        let key = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let (authorization, x_api_key) = (key("authorization"), key("x-api-key"));
        tracing::info!(%authorization, %x_api_key, "request");
    }
    next.run(request).await
}

async fn missing_key_500(request: Request, next: Next) -> Response {
    let keyed = request.headers().contains_key("authorization")
        || request.headers().contains_key("x-api-key");
    if keyed || !request.uri().path().starts_with("/v1/") {
        return next.run(request).await;
    }
    let mut r = Response::new(Body::from(
        r#"{"error":{"message":"Internal Server Error","type":"server_error","param":null,"code":null}}"#,
    ));
    *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    r
}

async fn ignore_user(mut request: Request, next: Next) -> Response {
    request.headers_mut().remove("x-concord-user");
    next.run(request).await
}

async fn ready_without_looking(request: Request, next: Next) -> Response {
    if request.uri().path() != "/health/ready" {
        return next.run(request).await;
    }
    let mut r = Response::new(Body::from(r#"{"status":"ok"}"#));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

/// concord's server with one accessor wrong.
struct Wrapped {
    inner: Arc<dyn ServerUnderTest>,
    flaw: ServerFlaw,
}

impl ServerUnderTest for Wrapped {
    fn origin(&self) -> &str {
        self.inner.origin()
    }

    fn key(&self) -> &str {
        self.inner.key()
    }

    fn register(&self, name: &str, ctx: concord::RuntimeContext) -> Result<(), String> {
        self.inner.register(name, ctx)
    }

    fn tenant(
        &self,
        name: &str,
        budget: Option<concord_models::Money>,
    ) -> BoxFuture<'_, Result<String, String>> {
        match self.flaw {
            ServerFlaw::BudgetIgnored => self.inner.tenant(name, None),
            _ => self.inner.tenant(name, budget),
        }
    }

    fn rate_limits(
        &self,
        tenant: &str,
        rpm: Option<u64>,
        tpm: Option<u64>,
    ) -> BoxFuture<'_, Result<(), String>> {
        match self.flaw {
            ServerFlaw::TenantLimitsIgnored => Box::pin(async { Ok(()) }),
            _ => self.inner.rate_limits(tenant, rpm, tpm),
        }
    }

    fn price(
        &self,
        provider: &str,
        model: &str,
        prices: concord_models::Prices,
    ) -> BoxFuture<'_, Result<(), String>> {
        self.inner.price(provider, model, prices)
    }

    fn records(&self) -> BoxFuture<'_, Result<Vec<concord_models::CallRecord>, String>> {
        Box::pin(async move {
            let mut records = self.inner.records().await?;
            if self.flaw == ServerFlaw::FailuresUnrecorded {
                records.retain(|r| r.outcome == "ok");
            }
            Ok(records)
        })
    }
}
