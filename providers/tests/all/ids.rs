//! Responses streams reconcile by position, not by item id (contract A2): every fixture stream
//! of the Responses API, with any of its ids renamed — per event, as a proxy in front of GitHub
//! Copilot does, or in the final response only, as a router does — assembles to its scenario's
//! expected answer. Only a reasoning block's id may follow the renaming (it is the id the
//! stream gave the block).

use std::convert::Infallible;

use bytes::Bytes;
use concord::{assemble, Response};
use concord_harness::{Fixtures, Protocol};
use proptest::prelude::*;
use serde_json::Value;

/// (name, stream bytes, expected answer) of every Responses scenario that ends cleanly.
fn corpus() -> Vec<(String, Vec<u8>, Response)> {
    let fixtures = Fixtures::default();
    let protocol = Protocol::OpenaiResponses;
    fixtures
        .list(protocol)
        .expect("fixtures list")
        .into_iter()
        .filter_map(|name| {
            let sc = fixtures.scenario(protocol, &name).ok()?;
            let spec = sc.file.stream.as_ref()?;
            if spec.end != concord_harness::StreamEnd::Close || spec.cut_at.is_some() {
                return None;
            }
            let expect = sc.file.expect.clone()?;
            if expect.get("error").is_some() {
                return None;
            }
            let want: Response = serde_json::from_value(expect).ok()?;
            Some((name, sc.stream_bytes?, want))
        })
        .collect()
}

/// Renames ids where `rename(occurrence)` says so: each event's `item_id`, `item.id`, and the
/// ids of the final response's output items. A renamed id is new and never repeats.
fn rename_ids(bytes: &[u8], mut rename: impl FnMut(usize) -> bool) -> Vec<u8> {
    let text = std::str::from_utf8(bytes).expect("fixtures are UTF-8");
    let mut occurrence = 0;
    let mut fresh = |v: &mut Value| {
        if v.is_string() {
            if rename(occurrence) {
                *v = Value::String(format!("renamed_{occurrence}"));
            }
            occurrence += 1;
        }
    };
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        let (body, end) = match line.strip_suffix("\r\n") {
            Some(b) => (b, "\r\n"),
            None => match line.strip_suffix('\n') {
                Some(b) => (b, "\n"),
                None => (line, ""),
            },
        };
        let Some(data) = body.strip_prefix("data:") else {
            out.push_str(line);
            continue;
        };
        let Ok(mut event) = serde_json::from_str::<Value>(data.trim_start()) else {
            out.push_str(line);
            continue;
        };
        if let Some(v) = event.get_mut("item_id") {
            fresh(v);
        }
        if let Some(v) = event.pointer_mut("/item/id") {
            fresh(v);
        }
        if let Some(items) = event
            .pointer_mut("/response/output")
            .and_then(Value::as_array_mut)
        {
            for item in items {
                if let Some(v) = item.get_mut("id") {
                    fresh(v);
                }
            }
        }
        out.push_str("data: ");
        out.push_str(&event.to_string());
        out.push_str(end);
    }
    out.into_bytes()
}

fn decode(bytes: Vec<u8>) -> Response {
    let provider = crate::common::provider(Protocol::OpenaiResponses);
    let stream = provider.decode_stream(futures_util::stream::iter([Ok::<_, Infallible>(
        Bytes::from(bytes),
    )]));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(assemble("openai", stream))
        .expect("the renamed stream still decodes")
}

fn without_block_ids(mut r: Response) -> Response {
    for b in &mut r.reasoning_blocks {
        b.id = None;
    }
    r
}

#[test]
fn every_id_renamed_on_every_event_gives_the_same_answer() {
    let corpus = corpus();
    assert!(corpus.len() >= 15, "corpus too small: {}", corpus.len());
    for (name, bytes, want) in corpus {
        let got = decode(rename_ids(&bytes, |_| true));
        assert_eq!(
            without_block_ids(got),
            without_block_ids(want),
            "openai-responses/{name}"
        );
    }
}

proptest! {
    #[test]
    fn any_ids_renamed_give_the_same_answer(which in 0usize..64, seed in any::<u64>()) {
        let corpus = corpus();
        let (name, bytes, want) = &corpus[which % corpus.len()];
        // Each occurrence renamed or kept by one bit of the seed (cycling).
        let got = decode(rename_ids(bytes, |n| seed.rotate_left(n as u32 % 64) & 1 == 1));
        prop_assert_eq!(without_block_ids(got), without_block_ids(want.clone()), "openai-responses/{}", name);
    }
}
