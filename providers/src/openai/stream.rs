//! Decodes Chat Completions `data:` chunks into normalised events.

use serde::Deserialize;
use serde_json::Value;

use super::response::{finish_reason, Content, WireFunction, WireUsage};
use crate::error::{Error, Result};
use crate::event::StreamEvent;
use crate::ids::IdNormalizer;
use crate::kit::{parse_arguments, StreamLife};
use crate::response::{null_as_default, Usage};
use crate::wire::StreamDecoder;

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    choices: Vec<ChunkChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<Content>,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    reasoning: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    tool_calls: Vec<DeltaToolCall>,
    #[serde(default)]
    refusal: Option<String>,
    /// Replay data (`super::replay`).
    #[serde(default, deserialize_with = "null_as_default")]
    reasoning_details: Vec<Value>,
}

#[derive(Deserialize)]
struct DeltaToolCall {
    #[serde(default)]
    index: Option<usize>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<WireFunction>,
    /// A Gemini thought signature (`super::replay`).
    #[serde(default)]
    extra_content: Option<Value>,
}

/// One tool call being assembled.
struct OpenCall {
    vendor_index: Option<usize>,
    vendor_id: Option<String>,
    name: String,
    arguments: String,
}

pub(super) struct Decoder {
    provider: String,
    life: StreamLife,
    calls: Vec<OpenCall>,
    ids: IdNormalizer,
    raw_finish: Option<String>,
    usage: Option<Usage>,
    refused: bool,
}

impl Decoder {
    pub(super) fn new(provider: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            life: StreamLife::default(),
            calls: Vec::new(),
            ids: IdNormalizer::default(),
            raw_finish: None,
            usage: None,
            refused: false,
        }
    }

    /// Finds (or opens) the call a delta belongs to. The `index` keys calls; a delta without
    /// one continues the last call unless it brings a new id, and a reused index with a new id
    /// opens a new call (both seen on compatible servers). An empty id (`"id": ""`, Alibaba's
    /// continuation deltas) is no id.
    fn call_for(&mut self, tc: &DeltaToolCall, out: &mut Vec<StreamEvent>) -> usize {
        let vendor_id = tc.id.as_deref().filter(|id| !id.is_empty());
        let existing = match tc.index {
            Some(i) => self.calls.iter().rposition(|c| c.vendor_index == Some(i)),
            None if vendor_id.is_none() => self.calls.len().checked_sub(1),
            None => None,
        };
        let reused = existing.filter(|&at| match (vendor_id, &self.calls[at].vendor_id) {
            (Some(new), Some(old)) => new != old,
            _ => false,
        });
        if let (Some(at), None) = (existing, reused) {
            return at;
        }
        let function = tc.function.as_ref();
        let name = function.and_then(|f| f.name.clone()).unwrap_or_default();
        let index = self.calls.len();
        let id = self.ids.next(vendor_id);
        out.push(StreamEvent::ToolCallStart {
            index,
            id,
            provider_id: vendor_id.map(str::to_owned),
            name: name.clone(),
            signature: super::replay::thought_signature(tc.extra_content.as_ref()),
        });
        self.calls.push(OpenCall {
            vendor_index: tc.index,
            vendor_id: vendor_id.map(str::to_owned),
            name,
            arguments: String::new(),
        });
        index
    }

    /// Ends every call (at `[DONE]`): each ends with its arguments object, or the stream fails
    /// (B3).
    fn close_calls(&mut self, out: &mut Vec<StreamEvent>) -> Result<()> {
        for (index, call) in self.calls.iter().enumerate() {
            let arguments = parse_arguments(&self.provider, &call.name, &call.arguments)?;
            out.push(StreamEvent::ToolCallEnd { index, arguments });
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<()> {
        self.life.start(None, None, out);
        self.close_calls(out)?;
        let reason = if self.refused {
            crate::FinishReason::ContentFilter
        } else {
            finish_reason(self.raw_finish.as_deref()).with_tool_calls(!self.calls.is_empty())
        };
        out.push(StreamEvent::Finish {
            finish_reason: reason,
            raw_finish_reason: self.raw_finish.clone(),
            usage: self.usage.unwrap_or_default(),
        });
        self.life.finish();
        Ok(())
    }
}

impl StreamDecoder for Decoder {
    fn on_event(&mut self, _event: &str, data: &str, out: &mut Vec<StreamEvent>) -> Result<()> {
        let data = data.trim();
        if data == "[DONE]" {
            return self.finish(out);
        }
        if data.is_empty() {
            return Ok(());
        }
        let chunk: Chunk = serde_json::from_str(data).map_err(|e| {
            Error::malformed(&self.provider, format!("stream chunk does not parse: {e}"))
        })?;
        if let Some(err) = &chunk.error {
            return Err(super::error::from_object(&self.provider, None, err));
        }
        self.life.start(chunk.id, chunk.model, out);
        if let Some(usage) = &chunk.usage {
            self.usage = Some(usage.normalise());
        }
        let Some(choice) = chunk.choices.into_iter().next() else {
            return Ok(());
        };
        if let Some(delta) = choice.delta {
            if let Some(reasoning) = delta
                .reasoning_content
                .or(delta.reasoning)
                .or_else(|| delta.content.as_ref().and_then(Content::reasoning))
                .filter(|r| !r.is_empty())
            {
                out.push(StreamEvent::ReasoningDelta { text: reasoning });
            }
            out.extend(
                delta
                    .reasoning_details
                    .iter()
                    .filter_map(super::replay::stream_end),
            );
            if let Some(text) = delta.content.map(|c| c.text()).filter(|t| !t.is_empty()) {
                out.push(StreamEvent::TextDelta { text });
            }
            // Refusal fragments are what the model said: text, with a content_filter finish.
            if let Some(text) = delta.refusal.filter(|t| !t.is_empty()) {
                self.refused = true;
                out.push(StreamEvent::TextDelta { text });
            }
            for tc in &delta.tool_calls {
                let index = self.call_for(tc, out);
                let fragment = tc.function.as_ref().and_then(|f| f.arguments.as_deref());
                if let Some(fragment) = fragment.filter(|f| !f.is_empty()) {
                    self.calls[index].arguments.push_str(fragment);
                    out.push(StreamEvent::ToolCallDelta {
                        index,
                        arguments: fragment.to_owned(),
                    });
                }
            }
        }
        // Calls end at `[DONE]`, not here: some servers send argument fragments, or a whole
        // call, after the chunk with the finish reason.
        if let Some(raw) = choice.finish_reason {
            self.raw_finish = Some(raw);
        }
        Ok(())
    }

    fn is_done(&self) -> bool {
        self.life.is_done()
    }

    fn on_end(&mut self, _out: &mut Vec<StreamEvent>) -> Result<()> {
        self.life.end(&self.provider, "`data: [DONE]`")
    }
}
