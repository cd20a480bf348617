//! The normalised stream (contract B4) and the assembler that turns it into the [`Response`]
//! `generate` would have returned.

use std::pin::Pin;

use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};
use crate::response::{FinishReason, ReasoningBlock, Response, ToolCall, Usage};

/// One item of a normalised stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// Always first.
    Start {
        /// The vendor's response id.
        id: String,
        /// The model that answers.
        model: String,
    },
    /// A fragment of answer text.
    TextDelta {
        /// The fragment.
        text: String,
    },
    /// A fragment of reasoning text.
    ReasoningDelta {
        /// The fragment.
        text: String,
    },
    /// A reasoning block is complete, with the opaque data the vendor needs to see again in
    /// history. Its text is the reasoning deltas since the previous `reasoning_end` (or the
    /// start). Only vendors that issue such data send it (see [`ReasoningBlock`]).
    ReasoningEnd {
        /// Anthropic thinking signature.
        #[serde(skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
        /// Anthropic redacted-thinking data.
        #[serde(skip_serializing_if = "Option::is_none")]
        redacted: Option<String>,
        /// OpenAI Responses encrypted reasoning.
        #[serde(skip_serializing_if = "Option::is_none")]
        encrypted_content: Option<String>,
        /// OpenAI Responses reasoning item id.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// A tool call begins.
    ToolCallStart {
        /// Position of the call in the response, from 0.
        index: usize,
        /// The normalised id.
        id: String,
        /// The vendor's id.
        provider_id: Option<String>,
        /// The function name.
        name: String,
        /// Opaque vendor data to send back with the call (see [`ToolCall::signature`]).
        #[serde(skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    /// A fragment of a tool call's JSON arguments.
    ToolCallDelta {
        /// Which call.
        index: usize,
        /// The fragment, as the vendor sent it.
        arguments: String,
    },
    /// A tool call is complete; its arguments parsed.
    ToolCallEnd {
        /// Which call.
        index: usize,
        /// The parsed arguments object.
        arguments: Value,
    },
    /// Always last: why it ended and the final usage.
    Finish {
        /// Normalised finish reason.
        finish_reason: FinishReason,
        /// The vendor's value.
        raw_finish_reason: Option<String>,
        /// Final cumulative usage.
        usage: Usage,
    },
}

/// A stream of normalised events; an `Err` item ends it.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<StreamEvent>> + Send>>;

/// Builds a [`Response`] from events, checking the B4 shape as it goes.
#[derive(Debug, Default)]
pub struct Assembler {
    start: Option<(String, String)>,
    text: String,
    reasoning: Option<String>,
    /// Where the current reasoning block's text starts in `reasoning`.
    block_from: usize,
    blocks: Vec<ReasoningBlock>,
    calls: Vec<ToolCall>,
    finish: Option<(FinishReason, Option<String>, Usage)>,
}

impl Assembler {
    /// Feeds one event. Fails on an event out of B4 order.
    pub fn push(&mut self, provider: &str, event: StreamEvent) -> Result<()> {
        let order = |what: &str| Error::malformed(provider, format!("stream out of order: {what}"));
        if self.finish.is_some() {
            return Err(order("event after finish"));
        }
        match event {
            StreamEvent::Start { id, model } => {
                if self.start.is_some() {
                    return Err(order("second start event"));
                }
                self.start = Some((id, model));
                return Ok(());
            }
            _ if self.start.is_none() => return Err(order("event before start")),
            StreamEvent::TextDelta { text } => self.text.push_str(&text),
            StreamEvent::ReasoningDelta { text } => self
                .reasoning
                .get_or_insert_with(String::new)
                .push_str(&text),
            StreamEvent::ReasoningEnd {
                signature,
                redacted,
                encrypted_content,
                id,
            } => {
                let all = self.reasoning.as_deref().unwrap_or_default();
                let mut text = all.get(self.block_from..).unwrap_or_default();
                // A later piece went out after the B7 separator; the block is the piece alone.
                if self.block_from > 0 {
                    text = text
                        .strip_prefix(crate::kit::REASONING_SEPARATOR)
                        .unwrap_or(text);
                }
                let text = text.to_owned();
                self.block_from = all.len();
                self.blocks.push(ReasoningBlock {
                    text,
                    signature,
                    redacted,
                    encrypted_content,
                    id,
                });
            }
            StreamEvent::ToolCallStart {
                index,
                id,
                provider_id,
                name,
                signature,
            } => {
                if index != self.calls.len() {
                    return Err(order("tool call index out of sequence"));
                }
                self.calls.push(ToolCall {
                    id,
                    provider_id,
                    name,
                    arguments: Value::Null,
                    signature,
                });
            }
            StreamEvent::ToolCallDelta { index, .. } => {
                if index >= self.calls.len() {
                    return Err(order("arguments for an unknown tool call"));
                }
            }
            StreamEvent::ToolCallEnd { index, arguments } => match self.calls.get_mut(index) {
                Some(call) => call.arguments = arguments,
                None => return Err(order("end of an unknown tool call")),
            },
            StreamEvent::Finish {
                finish_reason,
                raw_finish_reason,
                usage,
            } => self.finish = Some((finish_reason, raw_finish_reason, usage)),
        }
        Ok(())
    }

    /// The assembled response; fails if the stream never finished, or finished with a tool
    /// call that never ended (its arguments would be unknown, B3).
    pub fn finish(self, provider: &str) -> Result<Response> {
        let (Some((id, model)), Some((finish_reason, raw_finish_reason, usage))) =
            (self.start, self.finish)
        else {
            return Err(Error::new(
                ErrorKind::StreamInterrupted,
                provider,
                "the stream ended before its finish event",
            ));
        };
        if let Some(open) = self.calls.iter().find(|c| c.arguments.is_null()) {
            return Err(Error::malformed(
                provider,
                format!(
                    "stream out of order: tool call `{}` ({}) never ended",
                    open.name, open.id
                ),
            ));
        }
        Ok(Response {
            id,
            model,
            text: self.text,
            reasoning: self.reasoning,
            reasoning_blocks: self.blocks,
            tool_calls: self.calls,
            finish_reason,
            raw_finish_reason,
            usage,
        })
    }
}

/// Drains a stream into the response `generate` would return for the same exchange.
pub async fn assemble(provider: &str, mut stream: EventStream) -> Result<Response> {
    let mut assembler = Assembler::default();
    while let Some(event) = stream.next().await {
        assembler.push(provider, event?)?;
    }
    assembler.finish(provider)
}
