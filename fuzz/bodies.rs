//! What each fuzz target does, shared by the cargo-fuzz targets (`fuzz/fuzz_targets/`) and the
//! stable smoke test that runs the same bodies in CI (`providers/tests/fuzz_smoke.rs`). Beyond
//! "never panics", each checks an invariant a bug would break.

#![allow(dead_code)]

use std::convert::Infallible;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use concord::wire::sse::SseParser;
use concord::{Api, Assembler, EventStream, HttpProvider, Result, StreamEvent};
use futures_util::StreamExt;

/// The reference provider of each wire format, by a selector byte.
pub fn provider(which: u8) -> HttpProvider {
    concord::descriptor::reference(Api::ALL[usize::from(which % 4)]).unwrap()
}

/// Splits `data` into chunks at cut points drawn from its first byte (so the fuzzer explores
/// chunkings as well as contents).
fn chunks(data: &[u8]) -> Vec<Bytes> {
    let Some((&seed, rest)) = data.split_first() else {
        return Vec::new();
    };
    let step = usize::from(seed % 17) + 1;
    rest.chunks(step).map(Bytes::copy_from_slice).collect()
}

/// Drains a stream that never waits (its bytes come from memory).
fn drain(mut stream: EventStream) -> Vec<Result<StreamEvent>> {
    let mut cx = Context::from_waker(Waker::noop());
    let mut out = Vec::new();
    loop {
        match stream.poll_next_unpin(&mut cx) {
            Poll::Ready(Some(item)) => out.push(item),
            Poll::Ready(None) => return out,
            Poll::Pending => panic!("a stream fed from memory waited"),
        }
    }
}

/// A stream decoder on arbitrary bytes: it ends with at most one error, last; the events before
/// it keep the B4 order; and a stream that ended without an error assembles into a response.
pub fn stream(which: u8, data: &[u8]) {
    let p = provider(which);
    let chunks = chunks(data);
    let items = drain(p.decode_stream(futures_util::stream::iter(
        chunks.into_iter().map(Ok::<_, Infallible>),
    )));
    let errors = items.iter().filter(|i| i.is_err()).count();
    assert!(errors <= 1, "more than one error: {items:?}");
    if errors == 1 {
        assert!(items.last().unwrap().is_err(), "an error that is not last");
    }
    let mut asm = Assembler::default();
    for item in &items {
        let Ok(event) = item else { break };
        asm.push("fuzz", event.clone())
            .unwrap_or_else(|e| panic!("the decoder broke the B4 order: {e}: {items:?}"));
    }
    if errors == 0 && !items.is_empty() {
        asm.finish("fuzz")
            .unwrap_or_else(|e| panic!("a clean stream did not assemble: {e}: {items:?}"));
    }
}

/// A response and an error decoder on arbitrary bytes: a decoded response's tool calls carry
/// objects and valid ids; an error for a 4xx/5xx status keeps that status.
pub fn body(which: u8, data: &[u8]) {
    let p = provider(which);
    if let Ok(r) = p.decode_response(data) {
        for call in &r.tool_calls {
            assert!(call.arguments.is_object(), "{call:?}");
            assert!(concord::ids::is_valid(&call.id), "{call:?}");
        }
    }
    let status = 400 + u16::from(data.first().copied().unwrap_or(0)) % 200;
    let name = concord::Provider::name(&p).to_owned();
    let err = p.format().decode_error(&name, status, data);
    assert_eq!(err.provider, name);
    let _ = err.to_string();
}

/// The retry-signal readers on arbitrary header values: never a panic, never more than the cap.
pub fn retry_signals(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut headers = reqwest::header::HeaderMap::new();
    for (i, value) in text.split('\n').enumerate() {
        let name = [
            "retry-after",
            "retry-after-ms",
            "x-ms-retry-after-ms",
            "x-should-retry",
        ][i % 4];
        if let Ok(v) = reqwest::header::HeaderValue::from_str(value) {
            headers.append(name, v);
        }
        if let Some(d) = concord::wire::parse_proto_duration(value) {
            assert!(d <= concord::wire::MAX_RETRY_AFTER);
        }
    }
    let now = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
    if let Some(d) = concord::wire::retry_after(&headers, now) {
        assert!(d <= concord::wire::MAX_RETRY_AFTER, "{d:?}");
    }
    let base = concord::Error::new(concord::ErrorKind::RateLimited, "fuzz", "m");
    let _ = concord::wire::with_headers(base, &headers);
}

/// The SSE splitter, differentially: however the bytes are chunked, the same events (or the
/// same failure) come out.
pub fn sse(data: &[u8]) {
    let run = |pieces: &[&[u8]]| {
        let mut p = SseParser::new(4096);
        let mut events = Vec::new();
        let mut on = |e: &str, d: &str| {
            events.push((e.to_owned(), d.to_owned()));
            true
        };
        for piece in pieces {
            if let Err(e) = p.feed(piece, &mut on) {
                return (events, Some(e));
            }
        }
        p.finish(&mut on);
        (events, None)
    };
    let whole = run(&[data]);
    let split: Vec<&[u8]> = data.chunks(3).collect();
    assert_eq!(run(&split), whole);
}
