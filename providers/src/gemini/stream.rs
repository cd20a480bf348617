//! Decodes Gemini `data:` frames. There is no terminal marker: a frame with `finishReason`
//! followed by a clean end of the connection is a finished stream; anything else is
//! `stream_interrupted`. Function calls usually arrive whole; Gemini 3 can stream their
//! arguments over many parts (`partial.rs`), which become one call.

use super::partial::PartialArgs;
use super::response::{finish_reason, tool_call, FunctionCall, GenerateResponse, UsageMetadata};
use crate::error::{Error, ErrorKind, Result};
use crate::event::StreamEvent;
use crate::ids::IdNormalizer;
use crate::kit::{ReasoningJoin, StreamLife};
use crate::wire::StreamDecoder;

/// A function call whose arguments are still streaming.
struct OpenCall {
    index: usize,
    name: String,
    args: PartialArgs,
}

pub(super) struct Decoder {
    provider: String,
    life: StreamLife,
    calls: usize,
    ids: IdNormalizer,
    open: Option<OpenCall>,
    raw_finish: Option<String>,
    usage: Option<UsageMetadata>,
    reasoning: ReasoningJoin,
}

impl Decoder {
    pub(super) fn new(provider: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            life: StreamLife::default(),
            calls: 0,
            ids: IdNormalizer::default(),
            open: None,
            raw_finish: None,
            usage: None,
            reasoning: ReasoningJoin::default(),
        }
    }

    fn close_open(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some(call) = self.open.take() {
            let arguments = call.args.finish();
            out.push(StreamEvent::ToolCallDelta {
                index: call.index,
                arguments: arguments.to_string(),
            });
            out.push(StreamEvent::ToolCallEnd {
                index: call.index,
                arguments,
            });
        }
    }

    fn function_call(
        &mut self,
        call: FunctionCall,
        signature: Option<String>,
        out: &mut Vec<StreamEvent>,
    ) -> Result<()> {
        let FunctionCall {
            id,
            name,
            args,
            partial_args,
            will_continue,
        } = call;
        let continues = will_continue == Some(true);
        if !name.is_empty() {
            // A named part begins a call; one still streaming ends here.
            self.close_open(out);
            let index = self.calls;
            self.calls += 1;
            let streamed = continues || !partial_args.is_empty();
            let call = FunctionCall {
                id,
                name,
                args,
                partial_args: Vec::new(),
                will_continue,
            };
            let call = tool_call(&self.provider, &mut self.ids, call, signature)?;
            out.push(StreamEvent::ToolCallStart {
                index,
                id: call.id,
                provider_id: call.provider_id,
                name: call.name.clone(),
                signature: call.signature,
            });
            if !streamed {
                out.push(StreamEvent::ToolCallDelta {
                    index,
                    arguments: call.arguments.to_string(),
                });
                out.push(StreamEvent::ToolCallEnd {
                    index,
                    arguments: call.arguments,
                });
                return Ok(());
            }
            let mut args = PartialArgs::starting_from(call.arguments);
            for arg in partial_args {
                args.apply(&self.provider, &call.name, arg)?;
            }
            self.open = Some(OpenCall {
                index,
                name: call.name,
                args,
            });
            if !continues {
                self.close_open(out);
            }
            return Ok(());
        }
        // A nameless part continues the open call; without `willContinue` it is the last one.
        let Some(open) = self.open.as_mut() else {
            if partial_args.is_empty() {
                return Ok(());
            }
            return Err(Error::malformed(
                &self.provider,
                "streamed function-call arguments without a function call to belong to",
            ));
        };
        for arg in partial_args {
            open.args.apply(&self.provider, &open.name, arg)?;
        }
        if !continues {
            self.close_open(out);
        }
        Ok(())
    }
}

impl StreamDecoder for Decoder {
    fn on_event(&mut self, _event: &str, data: &str, out: &mut Vec<StreamEvent>) -> Result<()> {
        let data = data.trim();
        // Gemini sends no `[DONE]`, but proxies that speak OpenAI's dialect add one.
        if data.is_empty() || data == "[DONE]" {
            return Ok(());
        }
        let frame: GenerateResponse = serde_json::from_str(data).map_err(|e| {
            Error::malformed(&self.provider, format!("stream frame does not parse: {e}"))
        })?;
        if let Some(err) = &frame.error {
            return Err(super::error::from_object(&self.provider, None, err));
        }
        self.life
            .start(frame.response_id.clone(), frame.model_version.clone(), out);
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
            // A run of thought parts is one reasoning piece; any other part ends it (B7).
            if !part.thought {
                self.reasoning.end_piece();
            }
            if let Some(call) = part.function_call {
                self.function_call(call, part.thought_signature, out)?;
            } else if let Some(text) = part.text.filter(|t| !t.is_empty()) {
                if part.thought {
                    out.extend(self.reasoning.event(&text));
                } else {
                    out.push(StreamEvent::TextDelta { text });
                }
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
                &self.provider,
                "the stream ended before a frame with `finishReason`",
            ));
        }
        // The finish frame ends the turn: a call whose closing part never came ends with it.
        self.close_open(out);
        let reason = finish_reason(self.raw_finish.as_deref());
        out.push(StreamEvent::Finish {
            finish_reason: reason.with_tool_calls(self.calls > 0),
            raw_finish_reason: self.raw_finish.clone(),
            usage: self.usage.map(|u| u.normalise()).unwrap_or_default(),
        });
        Ok(())
    }
}
