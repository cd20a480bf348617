//! Streams cut anywhere decode to the same events: at every single byte offset (exhaustive),
//! and at random sets of offsets (property test). Cuts land inside frames, inside `\r\n` pairs
//! and inside multi-byte UTF-8 characters.

use std::convert::Infallible;

use bytes::Bytes;
use concord::{EventStream, StreamEvent};
use concord_harness::{Fixtures, Protocol};
use futures_util::StreamExt;
use proptest::prelude::*;

const SCENARIOS: &[&str] = &[
    "text",
    "utf8",
    "tool_call",
    "parallel_tool_calls",
    "reasoning",
    "crlf_comments",
    "unknown_fields",
    "server_tools",
    "thinking_tools",
    "streamed_arguments",
    "compat_parts",
    "compat_tool_ids",
    "hosted_tools",
];

fn decode(protocol: Protocol, chunks: Vec<Bytes>) -> EventStream {
    let bytes = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, Infallible>));
    crate::common::provider(protocol).decode_stream(bytes)
}

/// The events (errors as their kind). One frame gives the same events however it was chunked,
/// so the fragments must match exactly, not just their concatenation.
fn run(protocol: Protocol, chunks: Vec<Bytes>) -> Vec<Result<StreamEvent, String>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(
        decode(protocol, chunks)
            .map(|r| r.map_err(|e| e.kind.to_string()))
            .collect(),
    )
}

fn split_at(bytes: &[u8], cuts: &[usize]) -> Vec<Bytes> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut chunks = Vec::new();
    let mut from = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        chunks.push(Bytes::copy_from_slice(&bytes[from..cut]));
        from = cut;
    }
    chunks
}

fn corpus() -> Vec<(Protocol, String, Vec<u8>)> {
    let fixtures = Fixtures::default();
    Protocol::ALL
        .into_iter()
        .flat_map(|p| SCENARIOS.iter().map(move |s| (p, s)))
        .filter_map(|(p, s)| {
            let sc = fixtures.scenario(p, s).ok()?;
            Some((p, s.to_string(), sc.stream_bytes?))
        })
        .collect()
}

#[test]
fn a_cut_at_every_byte_offset_gives_the_same_events() {
    let corpus = corpus();
    assert!(corpus.len() >= 23, "corpus too small: {}", corpus.len());
    for (protocol, name, bytes) in corpus {
        let whole = run(protocol, vec![Bytes::from(bytes.clone())]);
        assert!(
            whole.iter().all(Result::is_ok),
            "{protocol}/{name}: {whole:?}"
        );
        for cut in 0..=bytes.len() {
            let got = run(protocol, split_at(&bytes, &[cut]));
            assert_eq!(got, whole, "{protocol}/{name} cut at byte {cut}");
        }
    }
}

#[test]
fn one_byte_chunks_give_the_same_events() {
    for (protocol, name, bytes) in corpus() {
        let whole = run(protocol, vec![Bytes::from(bytes.clone())]);
        let bytewise = bytes
            .iter()
            .map(|b| Bytes::copy_from_slice(&[*b]))
            .collect();
        assert_eq!(run(protocol, bytewise), whole, "{protocol}/{name}");
    }
}

proptest! {
    #[test]
    fn random_cuts_give_the_same_events(which in 0usize..64, cuts in prop::collection::vec(any::<usize>(), 0..24)) {
        let corpus = corpus();
        let (protocol, name, bytes) = &corpus[which % corpus.len()];
        let whole = run(*protocol, vec![Bytes::from(bytes.clone())]);
        prop_assert_eq!(run(*protocol, split_at(bytes, &cuts)), whole, "{}/{}", protocol, name);
    }
}
