//! The recording proxy: sits in front of a real vendor, passes every request and response
//! through unchanged (streams chunk by chunk), and keeps a redacted copy of each exchange.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::Response;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};

use super::{
    body_value, Cassette, Chunk, Exchange, Provenance, RecordedHttpRequest, RecordedHttpResponse,
    Redactor, VERSION,
};
use crate::error::Result;
use crate::serve::{Server, HOP};

/// How to record.
#[derive(Debug, Clone)]
pub struct RecordConfig {
    /// The real vendor's origin, e.g. `https://api.anthropic.com` (paths are kept as sent).
    pub upstream: String,
    /// Credentials to scrub besides those seen in auth headers.
    pub secrets: Vec<String>,
    /// The client used to reach the upstream.
    pub client: reqwest::Client,
}

struct Shared {
    config: RecordConfig,
    exchanges: Mutex<Vec<Exchange>>,
    redactor: Mutex<Redactor>,
}

/// A running recording proxy.
pub struct RecordingProxy {
    server: Server,
    shared: Arc<Shared>,
}

impl RecordingProxy {
    /// Starts the proxy on an ephemeral loopback port.
    pub async fn start(config: RecordConfig) -> Result<Self> {
        let (listener, addr) = crate::serve::bind(0).await?;
        let shared = Arc::new(Shared {
            redactor: Mutex::new(Redactor::new(config.secrets.clone())),
            config,
            exchanges: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(shared.clone());
        let server = Server::spawn(listener, addr, app);
        Ok(Self { server, shared })
    }

    /// `http://127.0.0.1:PORT`: use it in place of the vendor's origin.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The exchanges recorded so far, redacted.
    pub fn exchanges(&self) -> Vec<Exchange> {
        let redactor = self.shared.redactor.lock().expect("redactor lock").clone();
        let mut out = self.shared.exchanges.lock().expect("exchange lock").clone();
        out.iter_mut().for_each(|e| redactor.exchange(e));
        out
    }

    /// The redacted cassette of everything recorded.
    pub fn cassette(&self, provenance: Provenance) -> Cassette {
        Cassette {
            version: VERSION,
            provenance,
            exchanges: self.exchanges(),
        }
    }
}

fn header_map(headers: &HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn bad_gateway(message: String) -> Response {
    let mut r = Response::new(Body::from(message));
    *r.status_mut() = StatusCode::BAD_GATEWAY;
    r
}

async fn forward(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    {
        let mut redactor = shared.redactor.lock().expect("redactor lock");
        redactor.learn_headers(
            headers
                .iter()
                .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?))),
        );
        if let Some(q) = uri.query() {
            redactor.learn_query(q);
        }
    }
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
    let url = format!(
        "{}{path_and_query}",
        shared.config.upstream.trim_end_matches('/')
    );
    let mut req = shared
        .config
        .client
        .request(method.clone(), &url)
        .body(body.clone());
    for (n, v) in headers.iter().filter(|(n, _)| !HOP.contains(&n.as_str())) {
        req = req.header(n, v);
    }
    let request = RecordedHttpRequest {
        method: method.as_str().to_owned(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers: header_map(&headers)
            .into_iter()
            .filter(|(n, _)| !HOP.contains(&n.as_str()))
            .collect(),
        body: body_value(&body),
    };
    let upstream = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            let text = shared
                .redactor
                .lock()
                .expect("redactor lock")
                .text(&e.to_string());
            return bad_gateway(format!("recording proxy: upstream failed: {text}"));
        }
    };
    let status = upstream.status();
    let resp_headers = upstream.headers().clone();
    let streamed = resp_headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/event-stream"));
    let mut response = Response::builder().status(status);
    for (n, v) in resp_headers
        .iter()
        .filter(|(n, _)| !HOP.contains(&n.as_str()))
    {
        response = response.header(n, v);
    }
    let recorded_headers: BTreeMap<String, String> = header_map(&resp_headers)
        .into_iter()
        .filter(|(n, _)| !HOP.contains(&n.as_str()))
        .collect();
    if !streamed {
        let bytes = upstream.bytes().await.unwrap_or_default();
        shared
            .exchanges
            .lock()
            .expect("exchange lock")
            .push(Exchange {
                request,
                // Kept as the exact text, not re-serialised JSON, so a replay is byte for byte.
                response: RecordedHttpResponse {
                    status: status.as_u16(),
                    headers: recorded_headers,
                    body: Some(serde_json::Value::String(
                        String::from_utf8_lossy(&bytes).into_owned(),
                    )),
                    chunks: None,
                },
            });
        return response
            .body(Body::from(bytes))
            .unwrap_or_else(|e| bad_gateway(e.to_string()));
    }
    // Pass each chunk on as it arrives, noting its time; the exchange is stored at the end.
    let started = Instant::now();
    let recorder = Arc::new(Mutex::new(Vec::<Chunk>::new()));
    let sink = recorder.clone();
    let store = shared.clone();
    let status_code = status.as_u16();
    let chunks = upstream.bytes_stream().map(move |item| {
        if let Ok(bytes) = &item {
            sink.lock()
                .expect("chunk lock")
                .push(Chunk::new(started.elapsed().as_millis() as u64, bytes));
        }
        item.map_err(std::io::Error::other)
    });
    let finished = futures_util::stream::once(async move {
        let chunks = std::mem::take(&mut *recorder.lock().expect("chunk lock"));
        store
            .exchanges
            .lock()
            .expect("exchange lock")
            .push(Exchange {
                request,
                response: RecordedHttpResponse {
                    status: status_code,
                    headers: recorded_headers,
                    body: None,
                    chunks: Some(chunks),
                },
            });
        None
    })
    .filter_map(|x: Option<Result<Bytes, std::io::Error>>| async move { x });
    let mut out = response
        .body(Body::from_stream(chunks.chain(finished)))
        .unwrap_or_else(|e| bad_gateway(e.to_string()));
    out.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-cache"));
    out
}
