//! SSE: a byte stream, cut into events, handed to a format's [`StreamDecoder`], out as
//! normalised [`StreamEvent`]s, with a per-event size cap and an idle timeout.
//!
//! The event splitter is written here rather than taken from `eventsource-stream`, which (0.2.3)
//! stops yielding after one invalid UTF-8 byte while buffering and re-copying everything that
//! follows, and is quadratic on runs of blank lines. This one looks at each byte once (`memchr`
//! finds line ends), copies only the lines of an event split across chunks, validates UTF-8 per
//! line (a line end is ASCII, so never inside a character), and fails at once on invalid UTF-8
//! or an event over [`MAX_EVENT_BYTES`]. It follows the WHATWG event-stream format: lines end in
//! LF, CRLF or CR; `:` starts a comment; one space after the colon is dropped; a blank line
//! dispatches; a leading BOM is skipped.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::format::StreamDecoder;
use super::send::error_chain;
use crate::error::{Error, ErrorKind, Result};
use crate::event::{EventStream, StreamEvent};

/// The largest single SSE event; a stream that sends more without a blank line is cut off
/// instead of buffering without bound.
pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// Why a byte stream stopped early.
#[derive(Debug)]
pub enum ByteError {
    /// No bytes within the idle limit.
    Timeout(Duration),
    /// The connection failed.
    Transport(String),
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
        }
    }
}

/// Why the bytes are not an event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseError {
    /// A line is not UTF-8.
    NotUtf8,
    /// One event grew past the limit without a blank line.
    TooLarge(usize),
}

/// An incremental SSE parser: feed it chunks as they arrive, it calls back once per event.
#[derive(Debug)]
pub struct SseParser {
    /// The unterminated line carried over from earlier chunks.
    line: Vec<u8>,
    /// The event being assembled.
    event: String,
    data: String,
    has_data: bool,
    /// Bytes of the event's completed lines, for the size cap (the line in progress is `line`).
    size: usize,
    limit: usize,
    /// The last line ended in CR: a LF first in the next chunk belongs to it.
    after_cr: bool,
    /// Nothing seen yet: a BOM may come.
    at_start: bool,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::new(MAX_EVENT_BYTES)
    }
}

impl SseParser {
    /// A parser refusing events over `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            line: Vec::new(),
            event: String::new(),
            data: String::new(),
            has_data: false,
            size: 0,
            limit,
            after_cr: false,
            at_start: true,
        }
    }

    /// Parses `chunk`, calling `on_event(event_name, data)` for every complete event (the name
    /// is empty when the event has none). `on_event` returns `false` to stop early.
    pub fn feed(
        &mut self,
        mut chunk: &[u8],
        on_event: &mut dyn FnMut(&str, &str) -> bool,
    ) -> Result<(), SseError> {
        if self.at_start {
            // Hold the first bytes until it is clear whether a BOM (maybe split) starts them.
            self.line.extend_from_slice(chunk);
            if self.line.len() < 3 && b"\xEF\xBB\xBF".starts_with(&self.line) {
                return Ok(());
            }
            self.at_start = false;
            let staged = std::mem::take(&mut self.line);
            let rest = staged.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&staged);
            return self.feed(rest, on_event);
        }
        if self.after_cr && !chunk.is_empty() {
            self.after_cr = false;
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
        }
        while let Some(end) = memchr::memchr2(b'\n', b'\r', chunk) {
            let keep_going = if self.line.is_empty() {
                self.line_done(&chunk[..end], on_event)?
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&chunk[..end]);
                let go = self.line_done(&line, on_event);
                line.clear();
                self.line = line;
                go?
            };
            let mut next = end + 1;
            if chunk[end] == b'\r' {
                match chunk.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            chunk = &chunk[next..];
            if !keep_going {
                return Ok(());
            }
        }
        // The rest is the start of a line that ends in a later chunk.
        if self.size + self.line.len() + chunk.len() > self.limit {
            return Err(SseError::TooLarge(self.limit));
        }
        self.line.extend_from_slice(chunk);
        Ok(())
    }

    /// The bytes ended: an event whose lines all ended is dispatched even without the final
    /// blank line; a last line cut mid-way is dropped (it may be half a JSON payload).
    pub fn finish(&mut self, on_event: &mut dyn FnMut(&str, &str) -> bool) {
        if self.has_data {
            self.dispatch(on_event);
        }
    }

    /// One complete line (without its terminator). Returns whether to keep going.
    fn line_done(
        &mut self,
        line: &[u8],
        on_event: &mut dyn FnMut(&str, &str) -> bool,
    ) -> Result<bool, SseError> {
        if line.is_empty() {
            return Ok(if self.has_data {
                self.dispatch(on_event)
            } else {
                self.event.clear();
                self.size = 0;
                true
            });
        }
        self.size += line.len() + 1;
        if self.size > self.limit {
            return Err(SseError::TooLarge(self.limit));
        }
        let line = std::str::from_utf8(line).map_err(|_| SseError::NotUtf8)?;
        let (field, value) = match line.find(':') {
            Some(0) => return Ok(true), // a comment
            Some(i) => {
                let value = &line[i + 1..];
                (&line[..i], value.strip_prefix(' ').unwrap_or(value))
            }
            None => (line, ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => {
                self.event.clear();
                self.event.push_str(value);
            }
            // `id` and `retry` matter to browsers reconnecting, not to one HTTP response.
            _ => {}
        }
        Ok(true)
    }

    fn dispatch(&mut self, on_event: &mut dyn FnMut(&str, &str) -> bool) -> bool {
        let go = on_event(&self.event, &self.data);
        self.event.clear();
        self.data.clear();
        self.has_data = false;
        self.size = 0;
        go
    }
}

pub(crate) fn idle_timeout(
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
    bytes: S,
    parser: SseParser,
    decoder: Box<dyn StreamDecoder>,
    pending: VecDeque<StreamEvent>,
    /// The error that ends the stream, delivered after the events decoded before it.
    error: Option<Error>,
    provider: String,
    secret: Option<String>,
    finished: bool,
}

impl<S> SseState<S> {
    /// Runs the parser over `chunk` (or the end of the bytes when `None`), decoding every event
    /// into `pending`, up to the decoder's terminal marker.
    fn take(&mut self, chunk: Option<&[u8]>) -> Result<()> {
        let decoder = &mut self.decoder;
        let mut out = Vec::new();
        let mut failed = None;
        let mut on_event = |event: &str, data: &str| {
            if decoder.is_done() {
                return false;
            }
            let before = out.len();
            match decoder.on_event(event, data, &mut out) {
                Ok(()) => !decoder.is_done(),
                Err(e) => {
                    // What the failing event half-produced is dropped; what came before stays.
                    out.truncate(before);
                    failed = Some(e);
                    false
                }
            }
        };
        let parsed = match chunk {
            Some(chunk) => self.parser.feed(chunk, &mut on_event),
            None => {
                self.parser.finish(&mut on_event);
                Ok(())
            }
        };
        self.pending.extend(out);
        if let Some(e) = failed {
            return Err(e);
        }
        let provider = &self.provider;
        parsed.map_err(|e| match e {
            SseError::NotUtf8 => Error::malformed(provider, "the stream is not UTF-8"),
            SseError::TooLarge(limit) => Error::malformed(
                provider,
                format!(
                    "an SSE event is over {limit} bytes without ending; the stream was cut off"
                ),
            ),
        })?;
        if chunk.is_none() && !self.decoder.is_done() {
            let mut out = Vec::new();
            self.decoder.on_end(&mut out)?;
            self.pending.extend(out);
        }
        Ok(())
    }
}

/// Decodes a byte stream of SSE into normalised events with `decoder`. Public through
/// [`HttpProvider::decode_stream`](crate::HttpProvider::decode_stream), so tests and benchmarks
/// can feed bytes without a network.
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
    let state = SseState {
        bytes: Box::pin(bytes),
        parser: SseParser::default(),
        decoder,
        pending: VecDeque::new(),
        error: None,
        provider,
        secret,
        finished: false,
    };
    Box::pin(futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(event) = st.pending.pop_front() {
                return Some((Ok(event), st));
            }
            if let Some(err) = st.error.take() {
                return Some((Err(err), st));
            }
            if st.finished {
                return None;
            }
            let step = if st.decoder.is_done() {
                // Nothing after the terminal marker is read.
                st.finished = true;
                Ok(())
            } else {
                match st.bytes.next().await {
                    Some(Ok(chunk)) => st.take(Some(&chunk)),
                    Some(Err(e)) => Err(byte_error(&st.provider, e.into())),
                    None => {
                        st.finished = true;
                        st.take(None)
                    }
                }
            };
            if let Err(err) = step {
                st.finished = true;
                st.error = Some(match &st.secret {
                    Some(secret) => err.scrub(secret),
                    None => err,
                });
            }
        }
    }))
}

fn byte_error(provider: &str, e: ByteError) -> Error {
    match e {
        ByteError::Timeout(limit) => Error::new(
            ErrorKind::Timeout,
            provider,
            format!("the stream stalled: no data for {} ms", limit.as_millis()),
        ),
        ByteError::Transport(e) => Error::new(
            ErrorKind::StreamInterrupted,
            provider,
            format!("the connection failed mid-stream: {e}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every event of `bytes` fed in `chunks`-sized pieces, then the end.
    fn events(bytes: &[u8], chunk: usize, limit: usize) -> Result<Vec<(String, String)>, SseError> {
        let mut p = SseParser::new(limit);
        let mut got = Vec::new();
        let mut on = |e: &str, d: &str| {
            got.push((e.to_owned(), d.to_owned()));
            true
        };
        for piece in bytes.chunks(chunk.max(1)) {
            p.feed(piece, &mut on)?;
        }
        p.finish(&mut on);
        Ok(got)
    }

    type Events = Vec<(String, String)>;

    fn ev(e: &str, d: &str) -> (String, String) {
        (e.to_owned(), d.to_owned())
    }

    #[test]
    fn the_whatwg_rules_hold_for_every_chunking() {
        let cases: &[(&[u8], Events)] = &[
            (b"data: a\n\ndata: b\n\n", vec![ev("", "a"), ev("", "b")]),
            (
                b"data: a\r\n\r\ndata: b\r\n\r\n",
                vec![ev("", "a"), ev("", "b")],
            ),
            (b"data: a\r\rdata: b\r\r", vec![ev("", "a"), ev("", "b")]),
            (b"event: x\ndata: 1\ndata: 2\n\n", vec![ev("x", "1\n2")]),
            (b": comment\ndata:no-space\n\n", vec![ev("", "no-space")]),
            (b"data:  two spaces\n\n", vec![ev("", " two spaces")]),
            (b"data\n\n", vec![ev("", "")]),
            (b"event: only\n\ndata: x\n\n", vec![ev("", "x")]),
            (
                b"id: 7\nretry: 100\nfoo: bar\ndata: x\n\n",
                vec![ev("", "x")],
            ),
            (b"\xEF\xBB\xBFdata: bom\n\n", vec![ev("", "bom")]),
            // The end of the bytes: a complete last line is dispatched, a cut one is not.
            (b"data: last\n", vec![ev("", "last")]),
            (b"data: a\n\ndata: cut", vec![ev("", "a")]),
            (b"\n\n\n\n", vec![]),
        ];
        for (bytes, want) in cases {
            for chunk in 1..=bytes.len().max(1) {
                assert_eq!(
                    &events(bytes, chunk, 1 << 20).unwrap(),
                    want,
                    "{:?} in chunks of {chunk}",
                    String::from_utf8_lossy(bytes)
                );
            }
        }
    }

    #[test]
    fn invalid_utf8_fails_at_once() {
        assert_eq!(
            events(b"data: ok\n\ndata: \xff\n\n", 64, 1 << 20),
            Err(SseError::NotUtf8)
        );
        // A character split across chunks is fine.
        assert_eq!(
            events("data: ü世\n\n".as_bytes(), 1, 1 << 20).unwrap(),
            vec![ev("", "ü世")]
        );
    }

    #[test]
    fn an_event_over_the_limit_fails_whichever_way_it_grows() {
        for bytes in [
            &b"data: 0123456789012345678901234567890\n"[..],
            b"data: 1\ndata: 2\ndata: 3\ndata: 4\ndata: 5\n",
        ] {
            for chunk in [1, 3, 64] {
                assert_eq!(
                    events(bytes, chunk, 20),
                    Err(SseError::TooLarge(20)),
                    "{chunk}"
                );
            }
        }
        // Many small events are fine: the count resets at every blank line.
        let many = b"data: 12345\n\n".repeat(100);
        assert_eq!(events(&many, 7, 20).unwrap().len(), 100);
    }

    #[test]
    fn stopping_early_stops() {
        let mut p = SseParser::default();
        let mut seen = 0;
        p.feed(b"data: 1\n\ndata: 2\n\n", &mut |_, _| {
            seen += 1;
            false
        })
        .unwrap();
        assert_eq!(seen, 1);
    }
}
