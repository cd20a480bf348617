//! The HTTP side shared by every adapter: sending a [`WireRequest`] with the call's client,
//! reading bodies with a size cap, turning vendor error answers into [`Error`]s (retry signals of
//! contract A6 included), and running a byte stream through SSE decoding into [`StreamEvent`]s.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use eventsource_stream::{EventStreamError, Eventsource};
use futures_util::{Stream, StreamExt};
use reqwest::header::HeaderMap;

use crate::context::ResolvedCall;
use crate::error::{Error, ErrorKind, Result};
use crate::event::{EventStream, StreamEvent};
use crate::response::Response;

/// The largest body read into memory (a non-streamed answer or an error body).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// The largest single SSE event; a stream that sends more without a blank line is cut off
/// instead of buffering without bound.
pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// A request ready to send: no network has been touched to build it.
#[derive(Clone)]
pub struct WireRequest {
    /// Full URL.
    pub url: String,
    /// Headers other than auth.
    pub headers: Vec<(String, String)>,
    /// The auth header (name, value); kept apart so `Debug` can leave the value out.
    pub auth: (&'static str, String),
    /// The JSON body.
    pub body: Vec<u8>,
}

impl fmt::Debug for WireRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WireRequest")
            .field("url", &self.url)
            .field("auth", &format_args!("{}: [REDACTED]", self.auth.0))
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

impl WireRequest {
    /// The body as JSON (for tests and snapshots).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// What a wire protocol supplies to the shared HTTP plumbing.
pub(crate) trait Protocol: Send + Sync {
    /// The provider name for errors.
    fn name(&self) -> &str;
    /// Builds the request.
    fn encode(
        &self,
        call: &ResolvedCall<'_>,
        request: &crate::Request,
        stream: bool,
    ) -> Result<WireRequest>;
    /// Parses a 2xx body.
    fn decode_response(&self, body: &[u8]) -> Result<Response>;
    /// Turns a non-2xx body into an error (kind, message, body-borne retry delay).
    fn decode_error(&self, status: u16, body: &[u8]) -> Error;
    /// A fresh decoder for one stream.
    fn stream_decoder(&self) -> Box<dyn StreamDecoder>;
}

/// Turns one stream's SSE events into normalised events.
pub trait StreamDecoder: Send {
    /// Handles one SSE event (`event` is the `event:` name, empty when absent).
    fn on_event(&mut self, event: &str, data: &str, out: &mut Vec<StreamEvent>) -> Result<()>;
    /// Whether the vendor's terminal marker has been seen (no more input is read after it).
    fn is_done(&self) -> bool;
    /// The byte stream ended: emit the final events, or fail with `stream_interrupted` when the
    /// terminal marker never came.
    fn on_end(&mut self, out: &mut Vec<StreamEvent>) -> Result<()>;
}

/// Sends `wire` and returns the 2xx response; anything else becomes an error.
async fn send(
    p: &dyn Protocol,
    call: &ResolvedCall<'_>,
    wire: WireRequest,
) -> Result<reqwest::Response> {
    let mut builder = call
        .client
        .post(&wire.url)
        .header(wire.auth.0, &wire.auth.1)
        .header("content-type", "application/json");
    for (name, value) in wire.headers.iter().chain(call.headers.iter()) {
        builder = builder.header(name, value);
    }
    let secret = call.credential.expose();
    tracing::debug!(provider = p.name(), url = %redact_url(&wire.url), bytes = wire.body.len(), "sending");
    let send = builder.body(wire.body).send();
    let sent = match call.timeout {
        Some(limit) => tokio::time::timeout(limit, send)
            .await
            .map_err(|_| timeout_error(p.name(), limit))?,
        None => send.await,
    };
    let response = sent.map_err(|e| transport_error(p.name(), &e).scrub(secret))?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(response);
    }
    let headers = response.headers().clone();
    let body = read_body(p.name(), response, call.timeout)
        .await
        .unwrap_or_default();
    let err = p.decode_error(status, &body);
    Err(with_headers(err, &headers)
        .with_status(status)
        .scrub(secret))
}

/// `generate` for any protocol.
pub(crate) async fn generate(
    p: &dyn Protocol,
    call: ResolvedCall<'_>,
    request: &crate::Request,
) -> Result<Response> {
    let wire = p.encode(&call, request, false)?;
    let secret = call.credential.expose();
    let response = send(p, &call, wire).await?;
    let body = read_body(p.name(), response, call.timeout)
        .await
        .map_err(|e| e.scrub(secret))?;
    p.decode_response(&body).map_err(|e| e.scrub(secret))
}

/// `stream` for any protocol: returns once the vendor has answered with a 2xx.
pub(crate) async fn stream(
    p: &dyn Protocol,
    call: ResolvedCall<'_>,
    request: &crate::Request,
) -> Result<EventStream> {
    let wire = p.encode(&call, request, true)?;
    let response = send(p, &call, wire).await?;
    let bytes = idle_timeout(response.bytes_stream(), call.timeout);
    Ok(decode_sse(
        p.name().to_owned(),
        bytes,
        p.stream_decoder(),
        Some(call.credential.expose().to_owned()),
    ))
}

/// Why a byte stream stopped early.
#[derive(Debug)]
pub enum ByteError {
    /// No bytes within the idle limit.
    Timeout(Duration),
    /// The connection failed.
    Transport(String),
    /// One event grew past the limit without ending.
    TooLarge(usize),
}

/// Counts bytes since the last SSE event boundary (`\n\n`, `\r\r`, `\r\n\r\n`), across chunks.
#[derive(Debug, Default)]
struct EventSizeGuard {
    since_boundary: usize,
    last: [u8; 2],
}

impl EventSizeGuard {
    /// Fails when a single event would exceed `limit` bytes.
    fn check(&mut self, chunk: &[u8], limit: usize) -> Result<(), ByteError> {
        let len = chunk.len();
        // The byte at `k`, where negative `k` reaches into the previous chunk's last two bytes.
        let at = |k: isize| -> u8 {
            if k >= 0 {
                chunk[k as usize]
            } else if k >= -2 {
                self.last[(2 + k) as usize]
            } else {
                0
            }
        };
        // Scan back from the end: a chunk usually ends on a frame boundary, so this is short.
        let boundary = (0..len as isize).rev().find(|&i| match at(i) {
            b'\n' => at(i - 1) == b'\n' || (at(i - 1) == b'\r' && at(i - 2) == b'\n'),
            b'\r' => at(i - 1) == b'\r',
            _ => false,
        });
        self.since_boundary = match boundary {
            Some(i) => len - 1 - i as usize,
            None => self.since_boundary + len,
        };
        self.last = [at(len as isize - 2), at(len as isize - 1)];
        if self.since_boundary > limit {
            return Err(ByteError::TooLarge(limit));
        }
        Ok(())
    }
}

impl From<std::convert::Infallible> for ByteError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

impl fmt::Display for ByteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout(d) => write!(f, "no data for {} ms", d.as_millis()),
            Self::Transport(e) => f.write_str(e),
            Self::TooLarge(limit) => write!(f, "an SSE event is over {limit} bytes"),
        }
    }
}

fn idle_timeout(
    bytes: impl Stream<Item = reqwest::Result<Bytes>> + Send + 'static,
    limit: Option<Duration>,
) -> impl Stream<Item = Result<Bytes, ByteError>> + Send + 'static {
    futures_util::stream::unfold(Box::pin(bytes), move |mut s| async move {
        let next = match limit {
            Some(limit) => match tokio::time::timeout(limit, s.next()).await {
                Ok(next) => next,
                Err(_) => return Some((Err(ByteError::Timeout(limit)), s)),
            },
            None => s.next().await,
        };
        next.map(|item| (item.map_err(|e| ByteError::Transport(error_chain(&e))), s))
    })
}

struct SseState<S> {
    sse: S,
    decoder: Box<dyn StreamDecoder>,
    pending: VecDeque<StreamEvent>,
    provider: String,
    secret: Option<String>,
    finished: bool,
}

/// Decodes a byte stream of SSE into normalised events with `decoder`. Public through each
/// adapter's `decode_stream`, so tests and benchmarks can feed bytes without a network.
pub fn decode_sse<S, E>(
    provider: String,
    bytes: S,
    decoder: Box<dyn StreamDecoder>,
    secret: Option<String>,
) -> EventStream
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<ByteError> + Send + 'static,
{
    let mut guard = EventSizeGuard::default();
    let bytes = bytes.map(move |item| {
        let chunk = item.map_err(Into::into)?;
        guard.check(&chunk, MAX_EVENT_BYTES)?;
        Ok(chunk)
    });
    let state = SseState {
        sse: Box::pin(bytes.eventsource()),
        decoder,
        pending: VecDeque::new(),
        provider,
        secret,
        finished: false,
    };
    Box::pin(futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(event) = st.pending.pop_front() {
                return Some((Ok(event), st));
            }
            if st.finished {
                return None;
            }
            let mut out = Vec::new();
            let step = if st.decoder.is_done() {
                st.finished = true;
                Ok(())
            } else {
                match st.sse.next().await {
                    Some(Ok(ev)) => st.decoder.on_event(&ev.event, &ev.data, &mut out),
                    Some(Err(e)) => Err(sse_error(&st.provider, e)),
                    None => {
                        st.finished = true;
                        st.decoder.on_end(&mut out)
                    }
                }
            };
            st.pending.extend(out);
            if let Err(err) = step {
                st.finished = true;
                st.pending.clear();
                let err = match &st.secret {
                    Some(secret) => err.scrub(secret),
                    None => err,
                };
                return Some((Err(err), st));
            }
        }
    }))
}

fn sse_error(provider: &str, e: EventStreamError<ByteError>) -> Error {
    match e {
        EventStreamError::Utf8(e) => {
            Error::malformed(provider, format!("stream is not UTF-8: {e}"))
        }
        EventStreamError::Parser(e) => Error::malformed(provider, format!("bad SSE framing: {e}")),
        EventStreamError::Transport(ByteError::Timeout(limit)) => Error::new(
            ErrorKind::Timeout,
            provider,
            format!("the stream stalled: no data for {} ms", limit.as_millis()),
        ),
        EventStreamError::Transport(ByteError::TooLarge(limit)) => Error::malformed(
            provider,
            format!("an SSE event is over {limit} bytes without ending; the stream was cut off"),
        ),
        EventStreamError::Transport(ByteError::Transport(e)) => Error::new(
            ErrorKind::StreamInterrupted,
            provider,
            format!("the connection failed mid-stream: {e}"),
        ),
    }
}

async fn read_body(
    provider: &str,
    mut response: reqwest::Response,
    limit: Option<Duration>,
) -> Result<Vec<u8>> {
    let read = async {
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| transport_error(provider, &e))?
        {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(Error::malformed(
                    provider,
                    format!("response body is over {MAX_BODY_BYTES} bytes"),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    match limit {
        Some(limit) => tokio::time::timeout(limit, read)
            .await
            .map_err(|_| timeout_error(provider, limit))?,
        None => read.await,
    }
}

fn timeout_error(provider: &str, limit: Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        provider,
        format!("no answer within {} ms", limit.as_millis()),
    )
}

fn transport_error(provider: &str, e: &reqwest::Error) -> Error {
    let kind = if e.is_timeout() {
        ErrorKind::Timeout
    } else {
        ErrorKind::Transport
    };
    Error::new(kind, provider, error_chain(e))
}

/// An error and its sources on one line, with any URL's query string removed (keys can hide there).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    redact_url(&text)
}

/// Drops query strings from anything that looks like a URL.
fn redact_url(text: &str) -> String {
    match text.find('?') {
        Some(q) => {
            let end = text[q..].find([' ', ')']).map_or(text.len(), |e| q + e);
            format!("{}?[query redacted]{}", &text[..q], &text[end..])
        }
        None => text.to_owned(),
    }
}

/// Adds what the headers say: retry delay (A6), `x-should-retry`, request id.
pub fn with_headers(mut err: Error, headers: &HeaderMap) -> Error {
    if let Some(after) = retry_after(headers, SystemTime::now()) {
        err.retry_after = Some(after);
    }
    if let Some(flag) = header(headers, "x-should-retry") {
        match flag.trim() {
            "true" => err.retryable = true,
            "false" => err.retryable = false,
            _ => {}
        }
    }
    if err.request_id.is_none() {
        err.request_id = ["x-request-id", "request-id", "x-goog-request-id"]
            .iter()
            .find_map(|n| header(headers, n))
            .map(str::to_owned);
    }
    err
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The longest retry delay concord reports. A vendor (or a proxy) asking for more — `1e20`
/// seconds has been seen from fuzzing, and `Duration::from_secs_f64` panics on it — gets this,
/// which every retry policy reads as "too long to wait".
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// `secs` as a delay: `None` unless finite and not negative, capped at [`MAX_RETRY_AFTER`].
fn delay_from_secs(secs: f64) -> Option<Duration> {
    if !(secs.is_finite() && secs >= 0.0) {
        return None;
    }
    Some(Duration::from_secs_f64(
        secs.min(MAX_RETRY_AFTER.as_secs_f64()),
    ))
}

/// The delay asked for by the headers of contract A6, in order of precision:
/// `retry-after-ms`, `x-ms-retry-after-ms`, then `retry-after` as seconds or an HTTP-date.
/// Absurd values are capped at [`MAX_RETRY_AFTER`]; unreadable ones are ignored.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let millis = ["retry-after-ms", "x-ms-retry-after-ms"]
        .iter()
        .find_map(|n| header(headers, n)?.trim().parse::<f64>().ok())
        .and_then(|ms| delay_from_secs(ms / 1000.0));
    if millis.is_some() {
        return millis;
    }
    let value = header(headers, "retry-after")?.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return delay_from_secs(secs);
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

/// Parses a protobuf-JSON duration such as `"34.4s"` (Gemini `RetryInfo.retryDelay`), capped
/// at [`MAX_RETRY_AFTER`].
pub fn parse_proto_duration(text: &str) -> Option<Duration> {
    delay_from_secs(text.trim().strip_suffix('s')?.parse().ok()?)
}

/// Parses a JSON body or fails with `malformed_response` naming what was being read.
pub(crate) fn parse_json<'a, T: serde::Deserialize<'a>>(
    provider: &str,
    what: &str,
    bytes: &'a [u8],
) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::malformed(provider, format!("{what} does not parse: {e}")))
}

/// A short, printable excerpt of a body that is not the JSON we expected (an HTML error page).
pub(crate) fn body_snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".to_owned();
    }
    let mut cut: String = text.chars().take(300).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(n, v)| {
                (
                    HeaderName::from_bytes(n.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn retry_after_reads_every_a6_header_form() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let date = httpdate::fmt_http_date(now + Duration::from_secs(42));
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<Duration>);
        let cases: &[Case] = &[
            (
                &[("retry-after-ms", "1500")],
                Some(Duration::from_millis(1500)),
            ),
            (
                &[("x-ms-retry-after-ms", "250.5")],
                Some(Duration::from_micros(250_500)),
            ),
            (&[("retry-after", "20")], Some(Duration::from_secs(20))),
            (&[("retry-after", "0.5")], Some(Duration::from_millis(500))),
            (&[("retry-after", &date)], Some(Duration::from_secs(42))),
            (
                &[("retry-after", "Thu, 01 Jan 1970 00:00:00 GMT")],
                Some(Duration::ZERO),
            ),
            (
                &[("retry-after-ms", "900"), ("retry-after", "20")],
                Some(Duration::from_millis(900)),
            ),
            (&[("retry-after", "soon")], None),
            (&[("retry-after", "-3")], None),
            // Found by fuzzing: each of these used to panic inside `from_secs_f64`.
            (&[("retry-after", "1e20")], Some(MAX_RETRY_AFTER)),
            (&[("retry-after-ms", "1e300")], Some(MAX_RETRY_AFTER)),
            (&[("x-ms-retry-after-ms", "1e30")], Some(MAX_RETRY_AFTER)),
            (&[("retry-after", "inf")], None),
            (&[("retry-after", "NaN")], None),
            (
                &[("retry-after-ms", "-1"), ("retry-after", "3")],
                Some(Duration::from_secs(3)),
            ),
            (&[], None),
        ];
        for (pairs, want) in cases {
            assert_eq!(retry_after(&headers(pairs), now), *want, "{pairs:?}");
        }
    }

    #[test]
    fn the_event_size_guard_resets_at_every_boundary_form() {
        for (stream, ok) in [
            (&b"data: 12345\n\ndata: 12345\n\n"[..], true),
            (b"data: 12345\r\rdata: 12345\r\r", true),
            (b"data: 12345\r\n\r\ndata: 12345\r\n\r\n", true),
            (b"data: 123456789012345678901234567890\n", false),
            (b"data: 12345\r\ndata: 12345\r\ndata: 12345\r\n", false),
        ] {
            // Byte by byte, so boundaries split across chunks are found too.
            let mut guard = EventSizeGuard::default();
            let result = stream.iter().try_for_each(|b| guard.check(&[*b], 20));
            assert_eq!(result.is_ok(), ok, "{:?}", String::from_utf8_lossy(stream));
        }
    }

    #[test]
    fn proto_durations_parse() {
        assert_eq!(
            parse_proto_duration("34.4s"),
            Some(Duration::from_millis(34_400))
        );
        assert_eq!(parse_proto_duration("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_proto_duration("2"), None);
        assert_eq!(parse_proto_duration("-1s"), None);
        assert_eq!(parse_proto_duration("1e20s"), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_proto_duration("infs"), None);
    }

    #[test]
    fn x_should_retry_overrides_and_request_ids_are_read() {
        let base = Error::new(ErrorKind::ServerError, "p", "m");
        let e = with_headers(
            base.clone(),
            &headers(&[("x-should-retry", "false"), ("x-request-id", "req_1")]),
        );
        assert!(!e.retryable);
        assert_eq!(e.request_id.as_deref(), Some("req_1"));
        let e = with_headers(
            Error::new(ErrorKind::InvalidRequest, "p", "m"),
            &headers(&[("x-should-retry", "true")]),
        );
        assert!(e.retryable);
    }

    #[test]
    fn urls_lose_their_query_in_messages() {
        assert_eq!(
            redact_url("error sending request for url (http://h/x?key=SECRET)"),
            "error sending request for url (http://h/x?[query redacted])"
        );
    }

    #[test]
    fn wire_request_debug_hides_the_key() {
        let w = WireRequest {
            url: "u".into(),
            headers: vec![("x-extra".into(), "secret-header-value".into())],
            auth: ("x-api-key", "sk-ant-SECRET".into()),
            body: vec![],
        };
        let text = format!("{w:?}");
        assert!(
            !text.contains("SECRET") && !text.contains("secret-header-value"),
            "{text}"
        );
    }
}
