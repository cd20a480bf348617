//! SSE: a byte stream, cut into events, handed to a format's [`StreamDecoder`], out as
//! normalised [`StreamEvent`]s, with a per-event size cap and an idle timeout.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use eventsource_stream::{EventStreamError, Eventsource};
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
