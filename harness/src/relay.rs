//! The upstream relay: one fixed loopback address a gateway under test is configured with, in
//! front of the many mock vendors a conformance run starts (each check its own, on a port
//! chosen at run time). The suite marks each request's user text with the port of the check's
//! mock, `[concord-upstream:PORT]` — user text is the one thing every gateway forwards
//! unchanged, where models are renamed and unknown headers dropped — and the relay sends the
//! request there with the marker taken out, streaming the answer back as it comes. So a gateway
//! configured once reaches every check's own scenario, and each check reads its own mock's log.
//!
//! Only loopback ports are reachable through it: the marker names a port, never a host.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, Method, StatusCode, Uri};

use crate::error::Result;
use crate::serve::{bind, Server, HOP};

/// The marker's opening; the port and `]` follow.
pub const MARKER: &str = "[concord-upstream:";

/// `text` marked for the mock listening on `port`.
pub fn mark(text: &str, port: u16) -> String {
    format!("{text} {MARKER}{port}]")
}

/// The port a body is marked for, and the body without the marker (nor the space before it).
pub fn unmark(body: &[u8]) -> Option<(u16, Vec<u8>)> {
    let text = std::str::from_utf8(body).ok()?;
    let at = text.find(MARKER)?;
    let rest = &text[at + MARKER.len()..];
    let end = rest.find(']')?;
    let port: u16 = rest[..end].parse().ok()?;
    let start = if text[..at].ends_with(' ') {
        at - 1
    } else {
        at
    };
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..start]);
    out.push_str(&rest[end + 1..]);
    Some((port, out.into_bytes()))
}

struct Shared {
    client: reqwest::Client,
}

/// A running relay; dropping it stops it.
pub struct Relay {
    server: Server,
}

impl Relay {
    /// Listens on `127.0.0.1:port` (0: any free port).
    pub async fn start(port: u16) -> Result<Self> {
        let (listener, addr) = bind(port).await?;
        let shared = Arc::new(Shared {
            client: reqwest::Client::new(),
        });
        let app = axum::Router::new()
            .fallback(relay)
            .with_state(shared)
            // Vendors take bodies far beyond axum's 2 MB default.
            .layer(axum::extract::DefaultBodyLimit::max(64 << 20));
        Ok(Self {
            server: Server::spawn(listener, addr, app),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url()
    }
}

fn refuse(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({"error": {"type": "concord_relay", "message": message}});
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("a valid response")
}

async fn relay(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (port, body) = match unmark(&body) {
        Some(found) => found,
        None if method == Method::GET => {
            return refuse(
                StatusCode::NOT_FOUND,
                "the relay serves marked requests only; GET has no body to mark",
            )
        }
        None => {
            return refuse(
                StatusCode::BAD_GATEWAY,
                "no [concord-upstream:PORT] marker in the request: the gateway changed the user text, or the request is not the suite's",
            )
        }
    };
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut req = shared
        .client
        .request(method, format!("http://127.0.0.1:{port}{path_and_query}"))
        .body(body);
    for (n, v) in headers.iter().filter(|(n, _)| !HOP.contains(&n.as_str())) {
        req = req.header(n, v);
    }
    let upstream = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            return refuse(
                StatusCode::BAD_GATEWAY,
                &format!("the marked mock on port {port} did not answer: {e}"),
            )
        }
    };
    let mut response = Response::builder().status(upstream.status());
    for (n, v) in upstream
        .headers()
        .iter()
        .filter(|(n, _)| !HOP.contains(&n.as_str()))
    {
        response = response.header(n, v);
    }
    response
        .body(Body::from_stream(upstream.bytes_stream()))
        .expect("a valid response")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marked_body_gives_its_port_and_its_text_back() {
        let body = serde_json::json!({"messages": [{"role": "user", "content": mark("What's up?", 40123)}]});
        let (port, clean) = unmark(body.to_string().as_bytes()).unwrap();
        assert_eq!(port, 40123);
        let clean: serde_json::Value = serde_json::from_slice(&clean).unwrap();
        assert_eq!(clean["messages"][0]["content"], "What's up?");
        assert_eq!(unmark(b"{\"no\": \"marker\"}"), None);
        assert_eq!(unmark(b"[concord-upstream:99999]"), None, "not a port");
    }
}
