//! Stream decoding: recorded SSE bytes (a fixture's text stream with its delta frames repeated
//! to about 100 KB) to normalised events, per protocol, reported as throughput, beside a floor
//! measured in the same run: the same bytes and chunks through `eventsource-stream` plus
//! `serde_json` into `IgnoredAny` per frame, i.e. splitting and parsing with no decoding at all.
//!
//! A second group feeds a pathological stream (32 KiB of bare newlines) through both splitters:
//! `eventsource-stream` 0.2.3 is quadratic on it, concord's is linear.

use std::convert::Infallible;

use bytes::Bytes;
use concord::{Api, EventStream};
use concord_harness::{Fixtures, Protocol};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use eventsource_stream::Eventsource;
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

fn provider(protocol: Protocol) -> concord::HttpProvider {
    concord::descriptor::reference(match protocol {
        Protocol::Openai => Api::Chat,
        Protocol::OpenaiResponses => Api::Responses,
        Protocol::Anthropic => Api::Messages,
        Protocol::Gemini => Api::GenerateContent,
    })
    .unwrap()
}

fn decode(provider: &concord::HttpProvider, chunks: Vec<Bytes>) -> EventStream {
    provider.decode_stream(futures_util::stream::iter(
        chunks.into_iter().map(Ok::<_, Infallible>),
    ))
}

/// The floor: split with `eventsource-stream`, parse each frame's JSON into nothing.
async fn floor(chunks: Vec<Bytes>) -> usize {
    let mut events =
        futures_util::stream::iter(chunks.into_iter().map(Ok::<_, Infallible>)).eventsource();
    let mut n = 0;
    while let Some(Ok(event)) = events.next().await {
        if event.data != "[DONE]" {
            let _: serde::de::IgnoredAny = serde_json::from_str(&event.data).unwrap();
        }
        n += 1;
    }
    n
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
        let p = provider(protocol);
        let events = rt.block_on(decode(&p, chunks.clone()).collect::<Vec<_>>());
        assert!(
            events.iter().all(Result::is_ok),
            "{protocol}: the bench stream must decode cleanly"
        );
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(protocol.name(), |b| {
            b.iter(|| {
                rt.block_on(decode(&p, chunks.clone()).fold(0usize, |n, _| async move { n + 1 }))
            })
        });
        group.bench_function(format!("{}-floor", protocol.name()), |b| {
            b.iter(|| rt.block_on(floor(chunks.clone())))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("split_newlines");
    let newlines: Vec<Bytes> = vec![Bytes::from(vec![b'\n'; 32 * 1024])];
    group.throughput(Throughput::Bytes(32 * 1024));
    let p = provider(Protocol::Openai);
    group.bench_function("concord", |b| {
        b.iter(|| {
            rt.block_on(decode(&p, newlines.clone()).fold(0usize, |n, _| async move { n + 1 }))
        })
    });
    group.bench_function("eventsource-stream", |b| {
        b.iter(|| {
            rt.block_on(async {
                futures_util::stream::iter(newlines.clone().into_iter().map(Ok::<_, Infallible>))
                    .eventsource()
                    .fold(0usize, |n, _| async move { n + 1 })
                    .await
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
