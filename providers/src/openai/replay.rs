//! Reasoning replay data in Chat Completions, which has no field of its own for it: the
//! `reasoning_details` array OpenRouter documents ("Preserving reasoning blocks":
//! `reasoning.text` with its `signature`, `reasoning.encrypted` with its `data`,
//! `reasoning.summary`, each with an `id` and a `format`), and a function call's Gemini thought
//! signature in `extra_content.google.thought_signature` (Google's OpenAI compatibility
//! documentation). Read from any server; sent back only to servers that take them (not
//! OpenAI's own, which refuses fields it does not know). `concord serve`'s OpenAI door writes
//! and reads the same, so a Chat Completions client can carry a thinking model's tool loop
//! through it to any vendor.

use serde_json::{json, Map, Value};

use crate::event::StreamEvent;
use crate::response::ReasoningBlock;

/// `format` of a block that came from OpenAI's Responses API (its `encrypted_content`).
const RESPONSES: &str = "openai-responses-v1";
/// `format` of the others (Anthropic thinking signatures and redacted thinking).
const ANTHROPIC: &str = "anthropic-claude-v1";

/// The `reasoning_details` items of `blocks`: one per block, or two (a summary and its
/// encrypted data, sharing the id) for a Responses block with a summary.
pub fn details(blocks: &[ReasoningBlock]) -> Vec<Value> {
    let mut out = Vec::new();
    for (index, b) in blocks.iter().enumerate() {
        let mut item = |kind: &str, fields: Value, format: &str| {
            let mut m = Map::new();
            m.insert("type".into(), kind.into());
            if let Value::Object(f) = fields {
                m.extend(f);
            }
            if let Some(id) = &b.id {
                m.insert("id".into(), id.clone().into());
            }
            m.insert("format".into(), format.into());
            m.insert("index".into(), index.into());
            out.push(Value::Object(m));
        };
        if let Some(data) = &b.encrypted_content {
            if !b.text.is_empty() {
                item("reasoning.summary", json!({"summary": b.text}), RESPONSES);
            }
            item("reasoning.encrypted", json!({"data": data}), RESPONSES);
        } else if let Some(data) = &b.redacted {
            item("reasoning.encrypted", json!({"data": data}), ANTHROPIC);
        } else {
            let mut fields = json!({"text": b.text});
            if let Some(s) = &b.signature {
                fields["signature"] = s.clone().into();
            }
            item("reasoning.text", fields, ANTHROPIC);
        }
    }
    out
}

fn text(item: &Value, key: &str) -> Option<String> {
    item.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// The blocks of a message's `reasoning_details` (items with the same `index`, or a summary
/// followed by the encrypted data of the same id, are one block).
pub fn blocks(details: &[Value]) -> Vec<ReasoningBlock> {
    let mut out: Vec<(Option<u64>, ReasoningBlock)> = Vec::new();
    for item in details {
        let index = item.get("index").and_then(Value::as_u64);
        let id = text(item, "id");
        let same = out
            .last()
            .is_some_and(|(i, b)| (index.is_some() && *i == index) || (id.is_some() && b.id == id));
        if !same {
            out.push((index, ReasoningBlock::default()));
        }
        let (_, b) = out.last_mut().expect("pushed above");
        b.id = b.id.take().or(id);
        let responses = text(item, "format").as_deref() == Some(RESPONSES);
        match item.get("type").and_then(Value::as_str).unwrap_or_default() {
            "reasoning.text" => {
                b.text.push_str(&text(item, "text").unwrap_or_default());
                b.signature = b.signature.take().or_else(|| text(item, "signature"));
            }
            "reasoning.summary" => b.text.push_str(&text(item, "summary").unwrap_or_default()),
            "reasoning.encrypted" if responses => b.encrypted_content = text(item, "data"),
            "reasoning.encrypted" => b.redacted = text(item, "data"),
            _ => {}
        }
    }
    out.into_iter()
        .map(|(_, b)| b)
        .filter(|b| b.signature.is_some() || b.redacted.is_some() || b.encrypted_content.is_some())
        .collect()
}

/// The block end a streamed `reasoning_details` item completes, when it carries replay data
/// (its text arrives as `reasoning` / `reasoning_content` deltas, which servers send beside
/// it: it is not read twice).
pub fn stream_end(item: &Value) -> Option<StreamEvent> {
    let responses = text(item, "format").as_deref() == Some(RESPONSES);
    let data = text(item, "data");
    let (signature, redacted, encrypted_content) =
        match item.get("type").and_then(Value::as_str).unwrap_or_default() {
            "reasoning.text" => (text(item, "signature")?, None, None),
            "reasoning.encrypted" if responses => return end(None, None, data, item),
            "reasoning.encrypted" => return end(None, data, None, item),
            _ => return None,
        };
    end(Some(signature), redacted, encrypted_content, item)
}

fn end(
    signature: Option<String>,
    redacted: Option<String>,
    encrypted_content: Option<String>,
    item: &Value,
) -> Option<StreamEvent> {
    if signature.is_none() && redacted.is_none() && encrypted_content.is_none() {
        return None;
    }
    Some(StreamEvent::ReasoningEnd {
        signature,
        redacted,
        encrypted_content,
        id: text(item, "id"),
    })
}

/// A tool call's `extra_content` for a Gemini thought signature.
pub fn extra_content(signature: &str) -> Value {
    json!({"google": {"thought_signature": signature}})
}

/// The Gemini thought signature in a tool call's `extra_content`.
pub fn thought_signature(extra_content: Option<&Value>) -> Option<String> {
    extra_content?
        .pointer("/google/thought_signature")?
        .as_str()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_round_trip_through_details() {
        let blocks = vec![
            ReasoningBlock {
                text: "thinking".into(),
                signature: Some("sig".into()),
                ..ReasoningBlock::default()
            },
            ReasoningBlock {
                redacted: Some("opaque".into()),
                ..ReasoningBlock::default()
            },
            ReasoningBlock {
                text: "summary".into(),
                encrypted_content: Some("gAAA".into()),
                id: Some("rs_1".into()),
                ..ReasoningBlock::default()
            },
        ];
        let d = details(&blocks);
        assert_eq!(d.len(), 4, "{d:?}");
        assert_eq!(d[0]["type"], "reasoning.text");
        assert_eq!(d[3]["type"], "reasoning.encrypted");
        assert_eq!(super::blocks(&d), blocks);
    }

    #[test]
    fn openrouter_shaped_details_read_as_blocks() {
        // The shape of OpenRouter's documented example: an Anthropic model's signed text.
        let d = serde_json::json!([{"type": "reasoning.text", "text": "Let me think",
            "signature": "EqoB", "id": null, "format": "anthropic-claude-v1", "index": 0}]);
        let b = blocks(d.as_array().unwrap());
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].signature.as_deref(), Some("EqoB"));
        assert_eq!(b[0].text, "Let me think");
        // Text alone carries nothing to replay.
        let d = serde_json::json!([{"type": "reasoning.text", "text": "plain"}]);
        assert!(blocks(d.as_array().unwrap()).is_empty());
    }
}
