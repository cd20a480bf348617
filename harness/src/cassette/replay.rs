//! The replay server: answers from a cassette, matching on method, path and a normalised body,
//! and answers a miss with a readable diff against the nearest recorded request.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::Response;
use http::{HeaderValue, Method, StatusCode, Uri};
use serde_json::Value;

use super::{body_value, Cassette, Exchange};
use crate::error::Result;
use crate::scenario::Protocol;
use crate::serve::Server;

/// Body fields that differ between otherwise identical calls and are ignored when matching.
pub const VOLATILE_FIELDS: &[&str] = &[
    "user",
    "metadata",
    "seed",
    "stream_options",
    "safety_identifier",
    "prompt_cache_key",
];

/// A running replay server.
pub struct ReplayServer {
    server: Server,
    cassette: Arc<Cassette>,
}

fn normalise(body: &Value) -> Value {
    match body {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !VOLATILE_FIELDS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), normalise(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normalise).collect()),
        other => other.clone(),
    }
}

impl ReplayServer {
    /// Serves the cassette at `path` on `port` (0: any free port).
    pub async fn start(path: &Path, port: u16) -> Result<Self> {
        Self::serve(Cassette::load(path)?, port).await
    }

    /// Serves `cassette`.
    pub async fn serve(cassette: Cassette, port: u16) -> Result<Self> {
        let (listener, addr) = crate::serve::bind(port).await?;
        let cassette = Arc::new(cassette);
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(cassette.clone());
        let server = Server::spawn(listener, addr, app);
        Ok(Self { server, cassette })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The base URL for a client of `protocol`.
    pub fn base_url(&self, protocol: Protocol) -> String {
        format!("{}{}", self.url(), protocol.sdk_base_path())
    }

    /// How many exchanges it holds.
    pub fn len(&self) -> usize {
        self.cassette.exchanges.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.cassette.exchanges.is_empty()
    }
}

fn find<'a>(
    cassette: &'a Cassette,
    method: &str,
    path: &str,
    body: &Value,
) -> std::result::Result<&'a Exchange, String> {
    let wanted = normalise(body);
    let same_route = |e: &&Exchange| e.request.method == method && e.request.path == path;
    if let Some(hit) = cassette
        .exchanges
        .iter()
        .filter(same_route)
        .find(|e| normalise(&e.request.body) == wanted)
    {
        return Ok(hit);
    }
    let got = format!(
        "{method} {path}\n{}",
        serde_json::to_string_pretty(&wanted).unwrap_or_default()
    );
    let nearest = cassette
        .exchanges
        .iter()
        .map(|e| {
            let text = format!(
                "{} {}\n{}",
                e.request.method,
                e.request.path,
                serde_json::to_string_pretty(&normalise(&e.request.body)).unwrap_or_default()
            );
            (similar::TextDiff::from_lines(&text, &got).ratio(), text)
        })
        .max_by(|a, b| a.0.total_cmp(&b.0));
    Err(match nearest {
        Some((_, recorded)) => {
            let diff = similar::TextDiff::from_lines(&recorded, &got);
            format!(
                "no recorded exchange matches this request. Diff against the nearest recorded request (- recorded, + received):\n{}",
                diff.unified_diff().context_radius(3)
            )
        }
        None => "the cassette holds no exchanges".to_owned(),
    })
}

async fn answer(
    State(cassette): State<Arc<Cassette>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let exchange = match find(&cassette, method.as_str(), uri.path(), &body_value(&body)) {
        Ok(e) => e.clone(),
        Err(message) => {
            let mut r = Response::new(Body::from(
                serde_json::json!({"error": {"type": "cassette_miss", "message": message}})
                    .to_string(),
            ));
            *r.status_mut() = StatusCode::NOT_FOUND;
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            return r;
        }
    };
    let mut builder = Response::builder().status(exchange.response.status);
    for (n, v) in &exchange.response.headers {
        builder = builder.header(n, v);
    }
    let body = match (&exchange.response.body, &exchange.response.chunks) {
        (Some(Value::String(text)), _) => Body::from(text.clone()),
        (Some(json), _) => Body::from(json.to_string()),
        (None, Some(chunks)) => {
            let chunks = chunks.clone();
            Body::from_stream(futures_util::stream::unfold(
                (chunks.into_iter(), 0u64),
                |(mut it, last)| async move {
                    let chunk = it.next()?;
                    // Replay the recorded pacing, capped so a slow recording does not slow tests.
                    let wait = chunk.offset_ms.saturating_sub(last).min(50);
                    if wait > 0 {
                        tokio::time::sleep(Duration::from_millis(wait)).await;
                    }
                    Some((
                        Ok::<_, std::io::Error>(Bytes::from(chunk.bytes())),
                        (it, chunk.offset_ms),
                    ))
                },
            ))
        }
        (None, None) => Body::empty(),
    };
    builder.body(body).unwrap_or_else(|e| {
        let mut r = Response::new(Body::from(format!("replay: bad recorded response: {e}")));
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}
