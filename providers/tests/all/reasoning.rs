//! Contract B7: separate reasoning pieces join with one blank line — Responses summary parts,
//! Anthropic thinking blocks, runs of Gemini thought parts — the same in every protocol, and the
//! same in a stream's deltas as in the generated answer. The bodies are the vendors' documented
//! shapes (Anthropic "Extended thinking" with interleaved thinking: two thinking blocks around a
//! tool call; Gemini "Thinking" with `includeThoughts`: thought parts, then the answer) cut to
//! what the rule reads.

use std::convert::Infallible;

use bytes::Bytes;
use concord::{assemble, Provider, Response};
use concord_harness::Protocol;
use serde_json::json;

fn both(protocol: Protocol, body: serde_json::Value, sse: &str) -> (Response, Response) {
    let p = crate::common::provider(protocol);
    let generated = p
        .decode_response(body.to_string().as_bytes())
        .expect("the body decodes");
    let stream = p.decode_stream(futures_util::stream::iter([Ok::<_, Infallible>(
        Bytes::from(sse.to_owned()),
    )]));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let streamed = rt
        .block_on(assemble(p.name(), stream))
        .expect("the stream decodes");
    (generated, streamed)
}

#[test]
fn anthropic_thinking_blocks_are_pieces() {
    let body = json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [
            {"type": "thinking", "thinking": "I need the weather.", "signature": "sig-a"},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "thinking", "thinking": "And the time.", "signature": "sig-b"},
            {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}}
        ],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 10, "output_tokens": 20}
    });
    let ev = |name: &str, data: serde_json::Value| format!("event: {name}\ndata: {data}\n\n");
    let mut sse = ev(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": [], "usage": {"input_tokens": 10, "output_tokens": 1}}}),
    );
    for (i, block) in body["content"].as_array().unwrap().iter().enumerate() {
        let (start, deltas) = match block["type"].as_str().unwrap() {
            "thinking" => {
                let t = block["thinking"].as_str().unwrap();
                let (a, b) = t.split_at(4);
                (
                    json!({"type": "thinking", "thinking": ""}),
                    vec![
                        json!({"type": "thinking_delta", "thinking": a}),
                        json!({"type": "thinking_delta", "thinking": b}),
                        json!({"type": "signature_delta", "signature": block["signature"]}),
                    ],
                )
            }
            _ => (
                json!({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}),
                vec![
                    json!({"type": "input_json_delta", "partial_json": block["input"].to_string()}),
                ],
            ),
        };
        sse += &ev(
            "content_block_start",
            json!({"type": "content_block_start", "index": i, "content_block": start}),
        );
        for d in deltas {
            sse += &ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": i, "delta": d}),
            );
        }
        sse += &ev(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": i}),
        );
    }
    sse += &ev(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 20}}),
    );
    sse += &ev("message_stop", json!({"type": "message_stop"}));
    let (generated, streamed) = both(Protocol::Anthropic, body, &sse);
    assert_eq!(
        generated.reasoning.as_deref(),
        Some("I need the weather.\n\nAnd the time.")
    );
    let texts: Vec<&str> = generated
        .reasoning_blocks
        .iter()
        .map(|b| b.text.as_str())
        .collect();
    assert_eq!(
        texts,
        ["I need the weather.", "And the time."],
        "a block is its piece alone"
    );
    assert_eq!(streamed, generated);
}

#[test]
fn gemini_runs_of_thought_parts_are_pieces() {
    let parts = json!([
        {"text": "**Reading** the ", "thought": true},
        {"text": "question.", "thought": true},
        {"functionCall": {"name": "get_time", "args": {}}},
        {"text": "**Answering** now.", "thought": true},
        {"text": "It is noon."}
    ]);
    let body = |parts: serde_json::Value, finish: Option<&str>| {
        let mut c = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        if let Some(f) = finish {
            c["finishReason"] = json!(f);
        }
        json!({"candidates": [c], "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 6, "thoughtsTokenCount": 9}, "modelVersion": "gemini-2.5-flash", "responseId": "r1"})
    };
    // One frame per part, as Gemini streams thoughts; the last frame carries the finish.
    let list = parts.as_array().unwrap();
    let sse: String = list
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let finish = (i + 1 == list.len()).then_some("STOP");
            format!("data: {}\r\n\r\n", body(json!([p]), finish))
        })
        .collect();
    let (generated, streamed) = both(Protocol::Gemini, body(parts.clone(), Some("STOP")), &sse);
    assert_eq!(
        generated.reasoning.as_deref(),
        Some("**Reading** the question.\n\n**Answering** now.")
    );
    assert_eq!(generated.text, "It is noon.");
    assert_eq!(streamed, generated);
}

#[test]
fn gemini_counters_left_out_are_zero() {
    // A prompt blocked for safety: no candidate, and `usageMetadata` without the counters that
    // are zero (Gemini's JSON leaves them out).
    let body = json!({
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8},
        "modelVersion": "gemini-2.5-flash"
    });
    let sse = format!("data: {body}\r\n\r\n");
    let (generated, _) = both(Protocol::Gemini, body.clone(), &sse);
    let u = generated.usage;
    assert_eq!(
        (u.input_tokens, u.output_tokens, u.total_tokens),
        (Some(8), Some(0), Some(8))
    );
    assert_eq!(
        (u.reasoning_tokens, u.cache_read_tokens),
        (Some(0), Some(0))
    );
    assert_eq!(u.cache_write_tokens, None, "Gemini reports no cache writes");
    assert_eq!(
        generated.finish_reason,
        concord::FinishReason::ContentFilter
    );
    // Without the object, nothing is known.
    let bare = json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP"}]});
    let (generated, streamed) = both(Protocol::Gemini, bare.clone(), &format!("data: {bare}\n\n"));
    assert_eq!(generated.usage, concord::Usage::default());
    assert_eq!(streamed.usage, concord::Usage::default());
}
