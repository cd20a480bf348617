//! Builds the answer for a scenario: buffered JSON, or SSE bytes delivered chunk by chunk with
//! delays and an ending (clean, reset, stall).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_util::Stream;
use http::{HeaderName, HeaderValue, StatusCode};

use crate::observe::{Answering, Observations};
use crate::scenario::{header_value, StreamEnd, StreamSpec};

/// Values substituted into scenario bodies: `{{model}}` and `{{prompt}}`, so an echo scenario
/// gives every caller its own answer, and `{{credential}}`, for vendors that echo the key in
/// an error (a client must scrub it). The `synth_*` scenarios take what the mock made up from
/// the request: `{{tool_name}}`, and a JSON value as text (`{{json}}`, or in thirds
/// `{{json_1}}`..`{{json_3}}` for a stream's fragments) or as itself (`"{{json_value}}"`, the
/// quotes included, so the template stays valid JSON). Where the mock answers as the requested
/// model, the fixture's model name (as a JSON string) becomes it.
#[derive(Debug, Default, Clone)]
pub struct Substitutions {
    pub model: String,
    pub prompt: String,
    pub credential: String,
    pub tool_name: String,
    pub json: Option<serde_json::Value>,
    /// The fixture's model, and the requested one to answer as instead.
    pub renamed_model: Option<(String, String)>,
}

impl Substitutions {
    pub fn apply(&self, bytes: &[u8]) -> Vec<u8> {
        let renamed;
        let bytes = match &self.renamed_model {
            Some((fixture, requested)) => {
                let quoted = |s: &str| serde_json::to_string(s).expect("a string serialises");
                renamed = String::from_utf8_lossy(bytes)
                    .replace(&quoted(fixture), &quoted(requested))
                    .into_bytes();
                &renamed[..]
            }
            None => bytes,
        };
        if !bytes.windows(2).any(|w| w == b"{{") {
            return bytes.to_vec();
        }
        // JSON-escaped without the quotes, since the placeholders sit inside JSON strings.
        let esc = |s: &str| {
            let quoted = serde_json::to_string(s).expect("a string serialises");
            quoted[1..quoted.len() - 1].to_owned()
        };
        let mut out = String::from_utf8_lossy(bytes)
            .replace("{{model}}", &esc(&self.model))
            .replace("{{prompt}}", &esc(&self.prompt))
            .replace("{{credential}}", &esc(&self.credential))
            .replace("{{tool_name}}", &esc(&self.tool_name));
        if out.contains("{{json") {
            let value = self.json.clone().unwrap_or_else(|| serde_json::json!({}));
            let text = value.to_string();
            out = out.replace("\"{{json_value}}\"", &text);
            for (i, third) in thirds(&text).iter().enumerate() {
                out = out.replace(&format!("{{{{json_{}}}}}", i + 1), &esc(third));
            }
            out = out.replace("{{json}}", &esc(&text));
        }
        out.into_bytes()
    }
}

/// `text` in three pieces, cut at character boundaries (a piece may be empty).
fn thirds(text: &str) -> [&str; 3] {
    let cut = |n: usize| {
        let mut at = text.len() * n / 3;
        while !text.is_char_boundary(at) {
            at += 1;
        }
        at
    };
    let (a, b) = (cut(1), cut(2));
    [&text[..a], &text[a..b], &text[b..]]
}

pub fn with_headers(
    mut response: Response,
    headers: &std::collections::BTreeMap<String, String>,
) -> Response {
    let now = SystemTime::now();
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&header_value(value, now)),
        ) {
            response.headers_mut().insert(n, v);
        }
    }
    response
}

pub fn buffered(status: u16, body: Vec<u8>) -> Response {
    let content_type = if body.first() == Some(&b'{') || body.first() == Some(&b'[') {
        "application/json"
    } else {
        "text/plain; charset=utf-8"
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static(content_type));
    response
}

/// A Chat Completions stream as OpenAI sends it when the request did not set
/// `stream_options.include_usage`: without the last chunk that carries the usage (the one with
/// empty `choices`) and without the `"usage": null` every other chunk carries when it is set
/// (API reference, "Create chat completion", `stream_options`).
pub fn without_stream_usage(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for frame in frames(bytes) {
        let text = String::from_utf8_lossy(&frame);
        let data = text
            .lines()
            .find_map(|l| l.strip_prefix("data:"))
            .map(str::trim);
        let chunk = data.and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok());
        let usage_only = chunk.as_ref().is_some_and(|c| {
            c["choices"].as_array().is_some_and(Vec::is_empty) && c["usage"].is_object()
        });
        if usage_only {
            continue;
        }
        out.extend_from_slice(
            text.replace(",\"usage\":null", "")
                .replace("\"usage\":null,", "")
                .as_bytes(),
        );
    }
    out
}

/// Splits SSE bytes after each frame delimiter (`\n\n`, `\r\r`, `\r\n\r\n`), so by default
/// every frame is its own network chunk.
pub fn frames(bytes: &[u8]) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut from = 0;
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        let delimiter = if rest.starts_with(b"\r\n\r\n") {
            4
        } else if rest.starts_with(b"\n\n") || rest.starts_with(b"\r\r") {
            2
        } else {
            0
        };
        if delimiter > 0 {
            i += delimiter;
            out.push(Bytes::copy_from_slice(&bytes[from..i]));
            from = i;
        } else {
            i += 1;
        }
    }
    if from < bytes.len() {
        out.push(Bytes::copy_from_slice(&bytes[from..]));
    }
    out
}

/// Counts the stream as completed or abandoned when hyper drops it, and as no longer in flight.
struct DropGuard {
    obs: Arc<Observations>,
    completed: bool,
    _answering: Answering,
}

impl DropGuard {
    fn completed(mut self) {
        self.completed = true;
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.obs.stream_dropped(self.completed);
    }
}

pub fn streamed(
    spec: &StreamSpec,
    bytes: Vec<u8>,
    obs: Arc<Observations>,
    answering: Answering,
) -> Response {
    let bytes = match spec.cut_at {
        Some(n) => bytes[..n.min(bytes.len())].to_vec(),
        None => bytes,
    };
    let chunks: Vec<Bytes> = match spec.chunk_size {
        Some(n) if n > 0 => bytes.chunks(n).map(Bytes::copy_from_slice).collect(),
        _ => frames(&bytes),
    };
    let body = Body::from_stream(chunk_stream(
        chunks,
        Duration::from_millis(spec.delay_ms),
        spec.end,
        obs,
        answering,
    ));
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(spec.status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers.insert("cache-control", HeaderValue::from_static("no-cache"));
    with_headers(response, &spec.headers)
}

fn chunk_stream(
    chunks: Vec<Bytes>,
    delay: Duration,
    end: StreamEnd,
    obs: Arc<Observations>,
    answering: Answering,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let guard = DropGuard {
        obs,
        completed: false,
        _answering: answering,
    };
    futures_util::stream::unfold(
        (chunks.into_iter(), guard, true),
        move |(mut it, guard, first)| async move {
            if let Some(chunk) = it.next() {
                if !first && !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                return Some((Ok(chunk), (it, guard, false)));
            }
            if end == StreamEnd::Reset {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            match end {
                StreamEnd::Close => {
                    guard.completed();
                    None
                }
                // An error item makes hyper abort the connection without the final chunk. The pause
                // first lets hyper flush what was already sent, so the cut lands after it.
                StreamEnd::Reset => Some((
                    Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "mock: connection reset",
                    )),
                    (it, guard, false),
                )),
                StreamEnd::Stall => {
                    std::future::pending::<()>().await;
                    None
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_after_each_delimiter() {
        let got = frames(b"data: a\n\ndata: b\r\n\r\ndata: c\r\rtail");
        let got: Vec<&[u8]> = got.iter().map(|b| b.as_ref()).collect();
        assert_eq!(
            got,
            vec![
                &b"data: a\n\n"[..],
                b"data: b\r\n\r\n",
                b"data: c\r\r",
                b"tail"
            ]
        );
    }

    #[test]
    fn a_stream_without_include_usage_has_no_usage() {
        let with = b"data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}],\"usage\":null}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":3}}\n\ndata: [DONE]\n\n";
        assert_eq!(
            String::from_utf8(without_stream_usage(with)).unwrap(),
            "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DONE]\n\n"
        );
    }

    #[test]
    fn substitutions_are_json_escaped() {
        let s = Substitutions {
            model: "m\"1".into(),
            prompt: "line\nbreak".into(),
            credential: "k".into(),
            ..Substitutions::default()
        };
        assert_eq!(
            s.apply(br#"{"t":"{{model}}/{{prompt}}"}"#),
            br#"{"t":"m\"1/line\nbreak"}"#.to_vec()
        );
    }

    #[test]
    fn a_made_up_value_goes_in_as_text_in_thirds_or_as_itself() {
        let s = Substitutions {
            tool_name: "lookup".into(),
            json: Some(serde_json::json!({"city": "Zürich"})),
            ..Substitutions::default()
        };
        let template = br#"{"n":"{{tool_name}}","a":"{{json}}","v":"{{json_value}}","f":["{{json_1}}","{{json_2}}","{{json_3}}"]}"#;
        let out: serde_json::Value = serde_json::from_slice(&s.apply(template)).unwrap();
        assert_eq!(out["n"], "lookup");
        assert_eq!(out["a"], r#"{"city":"Zürich"}"#);
        assert_eq!(out["v"], serde_json::json!({"city": "Zürich"}));
        let pieces: String = out["f"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        assert_eq!(pieces, r#"{"city":"Zürich"}"#);
        assert!(out["f"].as_array().unwrap().iter().all(|p| p != ""));
    }
}
