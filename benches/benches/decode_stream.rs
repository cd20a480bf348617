//! Stream decoding: recorded SSE bytes (a fixture's text stream with its delta frames repeated
//! to about 100 KB) to normalised events, per protocol, reported as throughput.

use std::convert::Infallible;

use bytes::Bytes;
use concord::{Api, EventStream};
use concord_harness::{Fixtures, Protocol};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures_util::StreamExt;

/// Splits after each blank line, keeping delimiters.
fn frames(bytes: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let delimiter = if text.contains("\r\n\r\n") {
        "\r\n\r\n"
    } else {
        "\n\n"
    };
    text.split_inclusive(delimiter)
        .map(|f| f.as_bytes().to_vec())
        .collect()
}

fn big_stream(protocol: Protocol) -> Vec<u8> {
    let sc = Fixtures::default().scenario(protocol, "text").unwrap();
    let frames = frames(&sc.stream_bytes.unwrap());
    let is_delta = |f: &[u8]| {
        let f = String::from_utf8_lossy(f);
        match protocol {
            Protocol::Openai => f.contains("\"delta\":{\"content\""),
            Protocol::OpenaiResponses => f.contains("output_text.delta"),
            Protocol::Anthropic => f.contains("text_delta"),
            Protocol::Gemini => !f.contains("finishReason"),
        }
    };
    let first = frames.iter().position(|f| is_delta(f)).unwrap();
    let last = frames.iter().rposition(|f| is_delta(f)).unwrap();
    let mut out: Vec<u8> = frames[..first].concat();
    while out.len() < 100_000 {
        out.extend(frames[first..=last].concat());
    }
    out.extend(frames[last + 1..].concat());
    out
}

fn decode(protocol: Protocol, chunks: Vec<Bytes>) -> EventStream {
    let bytes = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, Infallible>));
    let (name, api) = match protocol {
        Protocol::Openai => ("openai", Api::Chat),
        Protocol::OpenaiResponses => ("openai", Api::Responses),
        Protocol::Anthropic => ("anthropic", Api::Messages),
        Protocol::Gemini => ("gemini", Api::GenerateContent),
    };
    concord::descriptor::get(name)
        .unwrap()
        .provider(Some(api))
        .unwrap()
        .decode_stream(bytes)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("decode_stream");
    for protocol in Protocol::ALL {
        let bytes = big_stream(protocol);
        // Network-sized chunks, as a real connection delivers them.
        let chunks: Vec<Bytes> = bytes.chunks(4096).map(Bytes::copy_from_slice).collect();
        let events = rt.block_on(decode(protocol, chunks.clone()).collect::<Vec<_>>());
        assert!(
            events.iter().all(Result::is_ok),
            "{protocol}: the bench stream must decode cleanly"
        );
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(protocol.name(), |b| {
            b.iter(|| {
                rt.block_on(
                    decode(protocol, chunks.clone()).fold(0usize, |n, _| async move { n + 1 }),
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
