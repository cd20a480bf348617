//! Gateways for the self-test of gateway mode: a small pass-through gateway (one vendor format
//! in, the same out, to the suite's relay) that checks its callers' key and calls upstream with
//! its own — and the same gateway with one mistake each, as users report them of real ones: a
//! 429 swallowed into a 500, `Retry-After` dropped, a cut stream ended cleanly, the caller's
//! key sent on to the vendor. The correct one must pass every applicable check, each broken one
//! fail exactly its own.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::Response;
use futures_util::StreamExt;
use http::{HeaderMap, Method, StatusCode, Uri};

use crate::gateway::Gateway;
use crate::served::{ServerFactory, ServerUnderTest};

/// The key the pass-through gateway takes from its callers.
const CALLER_KEY: &str = "sk-passthrough-caller-0123456789abcdef";

/// What a pass-through gateway gets wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GatewayFlaw {
    /// Nothing: the reference the broken ones differ from.
    None,
    /// A vendor's 429 reaches the caller as a 500.
    Swallows429,
    /// `Retry-After` and `retry-after-ms` are dropped from the vendor's answers.
    DropsRetryAfter,
    /// A stream cut upstream is ended with `data: [DONE]` as if it had finished.
    CleanEndOnCut,
    /// The caller's key is sent on to the vendor instead of the gateway's own.
    ForwardsCallersKey,
}

impl GatewayFlaw {
    /// Every flaw, the reference first.
    pub const ALL: [GatewayFlaw; 5] = [
        GatewayFlaw::None,
        GatewayFlaw::Swallows429,
        GatewayFlaw::DropsRetryAfter,
        GatewayFlaw::CleanEndOnCut,
        GatewayFlaw::ForwardsCallersKey,
    ];

    /// A pass-through gateway with this flaw, for subjects of the OpenAI Chat Completions
    /// protocol called through the OpenAI door.
    pub fn factory(self) -> ServerFactory {
        Arc::new(move |_provider| {
            Box::pin(async move {
                let relay = concord_harness::relay::Relay::start(0)
                    .await
                    .map_err(|e| format!("the relay did not start: {e}"))?;
                let shared = Arc::new(Shared {
                    flaw: self,
                    upstream: relay.url(),
                    // A stalled upstream is given up after 2 s, as any gateway should.
                    client: reqwest::Client::builder()
                        .read_timeout(std::time::Duration::from_secs(2))
                        .build()
                        .map_err(|e| e.to_string())?,
                });
                let app = axum::Router::new()
                    .fallback(pass)
                    .with_state(shared)
                    // Prompts beyond the context window must reach the vendor to be refused.
                    .layer(axum::extract::DefaultBodyLimit::max(64 << 20));
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .map_err(|e| e.to_string())?;
                let origin = format!(
                    "http://{}",
                    listener.local_addr().map_err(|e| e.to_string())?
                );
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                tokio::spawn(async move {
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = stopped.await;
                        })
                        .await;
                });
                let g = Gateway::new(&origin, CALLER_KEY, "").keeping((relay, stop));
                Ok(Arc::new(g) as Arc<dyn ServerUnderTest>)
            })
        })
    }
}

struct Shared {
    flaw: GatewayFlaw,
    upstream: String,
    client: reqwest::Client,
}

fn openai_error(status: StatusCode, message: &str, kind: &str) -> Response {
    let body = serde_json::json!({"error": {"message": message, "type": kind, "param": null, "code": null}});
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("a valid response")
}

async fn pass(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let caller = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    if caller.as_deref() != Some(CALLER_KEY) {
        return openai_error(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided.",
            "authentication_error",
        );
    }
    let key = match shared.flaw {
        GatewayFlaw::ForwardsCallersKey => CALLER_KEY,
        _ => crate::cx::MOCK_KEY,
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let sent = shared
        .client
        .request(method, format!("{}{path}", shared.upstream))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    let upstream = match sent {
        Ok(r) => r,
        Err(e) => return openai_error(StatusCode::BAD_GATEWAY, &e.to_string(), "server_error"),
    };
    let status = upstream.status();
    if status == StatusCode::TOO_MANY_REQUESTS && shared.flaw == GatewayFlaw::Swallows429 {
        return openai_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "upstream error",
            "server_error",
        );
    }
    let mut response = Response::builder().status(status);
    for (n, v) in upstream.headers() {
        let dropped = matches!(
            n.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) || (shared.flaw == GatewayFlaw::DropsRetryAfter
            && matches!(n.as_str(), "retry-after" | "retry-after-ms"));
        if !dropped {
            response = response.header(n, v);
        }
    }
    let clean_end = shared.flaw == GatewayFlaw::CleanEndOnCut;
    let stream = upstream.bytes_stream().scan(false, move |ended, item| {
        if *ended {
            return futures_util::future::ready(None);
        }
        let out = match item {
            Ok(bytes) => Ok(bytes),
            Err(_) if clean_end => {
                *ended = true;
                Ok(Bytes::from_static(b"\n\ndata: [DONE]\n\n"))
            }
            Err(e) => Err(e),
        };
        futures_util::future::ready(Some(out))
    });
    response
        .body(Body::from_stream(stream))
        .expect("a valid response")
}
