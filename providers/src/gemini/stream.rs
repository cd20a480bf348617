//! Decodes Gemini `data:` frames. There is no terminal marker: a frame with `finishReason`
//! followed by a clean end of the connection is a finished stream; anything else is
//! `stream_interrupted`.

use super::response::{finish_reason, tool_call, GenerateResponse, UsageMetadata};
use super::NAME;
use crate::error::{Error, ErrorKind, Result};
use crate::event::StreamEvent;
use crate::ids::IdNormalizer;
use crate::wire::StreamDecoder;

#[derive(Default)]
pub(super) struct Decoder {
    started: bool,
    calls: usize,
    ids: IdNormalizer,
    raw_finish: Option<String>,
    usage: Option<UsageMetadata>,
}

impl StreamDecoder for Decoder {
    fn on_event(&mut self, _event: &str, data: &str, out: &mut Vec<StreamEvent>) -> Result<()> {
        if data.trim().is_empty() {
            return Ok(());
        }
        let frame: GenerateResponse = serde_json::from_str(data)
            .map_err(|e| Error::malformed(NAME, format!("stream frame does not parse: {e}")))?;
        if let Some(err) = &frame.error {
            return Err(super::error::from_object(None, err));
        }
        if !self.started {
            self.started = true;
            out.push(StreamEvent::Start {
                id: frame.response_id.clone().unwrap_or_default(),
                model: frame.model_version.clone().unwrap_or_default(),
            });
        }
        // Usage is cumulative in every frame: the last one wins (A4).
        if frame.usage_metadata.is_some() {
            self.usage = frame.usage_metadata;
        }
        if self.raw_finish.is_none() {
            if let Some(reason) = frame.prompt_feedback.and_then(|f| f.block_reason) {
                self.raw_finish = Some(reason);
            }
        }
        let Some(candidate) = frame.candidates.into_iter().next() else {
            return Ok(());
        };
        for part in candidate.content.unwrap_or_default().parts {
            if let Some(call) = part.function_call {
                // Function calls arrive whole: start, all arguments, end.
                let index = self.calls;
                self.calls += 1;
                let call = tool_call(&mut self.ids, call, part.thought_signature)?;
                out.push(StreamEvent::ToolCallStart {
                    index,
                    id: call.id,
                    provider_id: call.provider_id,
                    name: call.name,
                    signature: call.signature,
                });
                out.push(StreamEvent::ToolCallDelta {
                    index,
                    arguments: call.arguments.to_string(),
                });
                out.push(StreamEvent::ToolCallEnd {
                    index,
                    arguments: call.arguments,
                });
            } else if let Some(text) = part.text.filter(|t| !t.is_empty()) {
                out.push(if part.thought {
                    StreamEvent::ReasoningDelta { text }
                } else {
                    StreamEvent::TextDelta { text }
                });
            }
        }
        if candidate.finish_reason.is_some() {
            self.raw_finish = candidate.finish_reason;
        }
        Ok(())
    }

    fn is_done(&self) -> bool {
        false
    }

    fn on_end(&mut self, out: &mut Vec<StreamEvent>) -> Result<()> {
        if self.raw_finish.is_none() {
            return Err(Error::new(
                ErrorKind::StreamInterrupted,
                NAME,
                "the stream ended before a frame with `finishReason`",
            ));
        }
        let reason = finish_reason(self.raw_finish.as_deref());
        out.push(StreamEvent::Finish {
            finish_reason: reason.with_tool_calls(self.calls > 0),
            raw_finish_reason: self.raw_finish.clone(),
            usage: self.usage.unwrap_or_default().normalise(),
        });
        Ok(())
    }
}
