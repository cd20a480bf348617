//! Decodes Messages stream events (`message_start`, `content_block_*`, `message_delta`,
//! `message_stop`, `ping`, `error`) into normalised events.
//!
//! Blocks other than `text`, `thinking`, `redacted_thinking` and `tool_use` (server tools and
//! their results, MCP, compaction, anything new) are tracked only so that their deltas
//! (`input_json_delta` of a `server_tool_use`, `citations_delta`, …) are recognised and skipped.

use serde::Deserialize;
use serde_json::Value;

use super::response::{finish_reason, Block, WireUsage};
use crate::error::{Error, Result};
use crate::event::StreamEvent;
use crate::ids::IdNormalizer;
use crate::kit::{parse_arguments, ReasoningJoin, StreamLife};
use crate::wire::StreamDecoder;

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event {
    MessageStart {
        message: StartMessage,
    },
    ContentBlockStart {
        index: usize,
        content_block: Block,
    },
    ContentBlockDelta {
        index: usize,
        delta: BlockDelta,
    },
    ContentBlockStop {
        index: usize,
    },
    MessageDelta {
        #[serde(default)]
        delta: MessageDelta,
        #[serde(default)]
        usage: Option<WireUsage>,
    },
    MessageStop,
    Ping,
    Error {
        error: Value,
    },
    #[serde(other)]
    Unknown,
}

#[derive(Deserialize)]
struct StartMessage {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockDelta {
    TextDelta {
        #[serde(default)]
        text: String,
    },
    ThinkingDelta {
        #[serde(default)]
        thinking: String,
    },
    SignatureDelta {
        #[serde(default)]
        signature: String,
    },
    InputJsonDelta {
        #[serde(default)]
        partial_json: String,
    },
    /// `citations_delta`, `compaction_delta`, and deltas not yet known.
    #[serde(other)]
    Other,
}

#[derive(Deserialize, Default)]
struct MessageDelta {
    #[serde(default)]
    stop_reason: Option<String>,
}

/// What a started content block is, for the deltas and the stop that follow it.
enum OpenBlock {
    Text,
    Thinking {
        signature: Option<String>,
    },
    Redacted {
        data: String,
    },
    Tool {
        call: usize,
        name: String,
        json: String,
    },
    /// A server-side or unknown block: its deltas are not the caller's.
    Other,
}

pub(super) struct Decoder {
    provider: String,
    life: StreamLife,
    /// The id of the message being streamed, once `message_start` came.
    message: Option<String>,
    usage: WireUsage,
    open: Vec<(usize, OpenBlock)>,
    calls: usize,
    ids: IdNormalizer,
    raw_finish: Option<String>,
    /// Each thinking block is a reasoning piece (B7).
    reasoning: ReasoningJoin,
}

impl Decoder {
    pub(super) fn new(provider: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            life: StreamLife::default(),
            message: None,
            usage: WireUsage::default(),
            open: Vec::new(),
            calls: 0,
            ids: IdNormalizer::default(),
            raw_finish: None,
            reasoning: ReasoningJoin::default(),
        }
    }

    fn require_start(&self) -> Result<()> {
        match self.message {
            Some(_) => Ok(()),
            None => Err(Error::malformed(
                &self.provider,
                "stream event before message_start",
            )),
        }
    }

    fn start_message(&mut self, message: StartMessage, out: &mut Vec<StreamEvent>) -> Result<()> {
        let id = message.id.unwrap_or_default();
        match &self.message {
            // A repeated `message_start` for the same message is harmless.
            Some(current) if *current == id => {}
            // Another message spliced in (a proxy restarting the call mid-stream): what was
            // already delivered cannot be taken back, so the stream fails.
            Some(current) => {
                return Err(Error::malformed(
                    &self.provider,
                    format!("message_start for `{id}` while message `{current}` is still open"),
                ))
            }
            None => {
                self.life.start(Some(id.clone()), message.model, out);
                self.message = Some(id);
            }
        }
        if let Some(usage) = &message.usage {
            self.usage.merge(usage);
        }
        Ok(())
    }

    fn start_block(
        &mut self,
        index: usize,
        block: Block,
        out: &mut Vec<StreamEvent>,
    ) -> Result<()> {
        if self.open.iter().any(|(i, _)| *i == index) {
            return Err(Error::malformed(
                &self.provider,
                format!("content block {index} started again before it stopped"),
            ));
        }
        let open = match block {
            Block::Text { text } => {
                if !text.is_empty() {
                    out.push(StreamEvent::TextDelta { text });
                }
                OpenBlock::Text
            }
            Block::Thinking {
                thinking,
                signature,
            } => {
                self.reasoning.end_piece();
                out.extend(self.reasoning.event(&thinking));
                OpenBlock::Thinking { signature }
            }
            Block::RedactedThinking { data } => OpenBlock::Redacted {
                data: data.unwrap_or_default(),
            },
            Block::ToolUse { id, name, input } => {
                let call = self.calls;
                self.calls += 1;
                out.push(StreamEvent::ToolCallStart {
                    index: call,
                    id: self.ids.next(id.as_deref()),
                    provider_id: id,
                    name: name.clone(),
                    signature: None,
                });
                // The start block's `input` is `{}`; a non-empty one is kept as the starting
                // JSON for servers that send the input whole.
                let json = match input {
                    Value::Object(o) if !o.is_empty() => Value::Object(o).to_string(),
                    _ => String::new(),
                };
                OpenBlock::Tool { call, name, json }
            }
            Block::Other => OpenBlock::Other,
        };
        self.open.push((index, open));
        Ok(())
    }

    fn delta(&mut self, index: usize, delta: BlockDelta, out: &mut Vec<StreamEvent>) -> Result<()> {
        let provider = self.provider.clone();
        let reasoning = &mut self.reasoning;
        let block = self
            .open
            .iter_mut()
            .find(|(i, _)| *i == index)
            .map(|(_, b)| b)
            .ok_or_else(|| {
                Error::malformed(
                    &provider,
                    format!("a delta for block {index}, which never started"),
                )
            })?;
        match (delta, block) {
            (BlockDelta::TextDelta { text }, OpenBlock::Text) => {
                out.push(StreamEvent::TextDelta { text })
            }
            (BlockDelta::ThinkingDelta { thinking }, OpenBlock::Thinking { .. }) => {
                out.extend(reasoning.event(&thinking))
            }
            (BlockDelta::SignatureDelta { signature }, OpenBlock::Thinking { signature: kept }) => {
                kept.get_or_insert_with(String::new).push_str(&signature)
            }
            (BlockDelta::InputJsonDelta { partial_json }, OpenBlock::Tool { call, json, .. }) => {
                json.push_str(&partial_json);
                out.push(StreamEvent::ToolCallDelta {
                    index: *call,
                    arguments: partial_json,
                });
            }
            // A server tool's input, citations, compaction: not the caller's to act on.
            (_, OpenBlock::Other) | (BlockDelta::Other, _) => {}
            (_, _) => {
                return Err(Error::malformed(
                    &provider,
                    format!("a delta that does not fit content block {index}"),
                ))
            }
        }
        Ok(())
    }

    fn stop_block(&mut self, index: usize, out: &mut Vec<StreamEvent>) -> Result<()> {
        let Some(at) = self.open.iter().position(|(i, _)| *i == index) else {
            return Ok(());
        };
        match self.open.remove(at).1 {
            OpenBlock::Tool { call, name, json } => {
                let arguments = parse_arguments(&self.provider, &name, &json)?;
                out.push(StreamEvent::ToolCallEnd {
                    index: call,
                    arguments,
                });
            }
            OpenBlock::Thinking {
                signature: Some(signature),
            } => out.push(StreamEvent::ReasoningEnd {
                signature: Some(signature),
                redacted: None,
                encrypted_content: None,
                id: None,
            }),
            OpenBlock::Redacted { data } => out.push(StreamEvent::ReasoningEnd {
                signature: None,
                redacted: Some(data),
                encrypted_content: None,
                id: None,
            }),
            OpenBlock::Text | OpenBlock::Thinking { signature: None } | OpenBlock::Other => {}
        }
        Ok(())
    }
}

impl StreamDecoder for Decoder {
    fn on_event(&mut self, _name: &str, data: &str, out: &mut Vec<StreamEvent>) -> Result<()> {
        if data.trim().is_empty() {
            return Ok(());
        }
        // The `type` inside the data repeats the `event:` name; the data is authoritative.
        let event: Event = serde_json::from_str(data).map_err(|e| {
            Error::malformed(&self.provider, format!("stream event does not parse: {e}"))
        })?;
        match event {
            Event::MessageStart { message } => self.start_message(message, out)?,
            Event::ContentBlockStart {
                index,
                content_block,
            } => {
                self.require_start()?;
                self.start_block(index, content_block, out)?;
            }
            Event::ContentBlockDelta { index, delta } => {
                self.require_start()?;
                self.delta(index, delta, out)?;
            }
            Event::ContentBlockStop { index } => self.stop_block(index, out)?,
            Event::MessageDelta { delta, usage } => {
                if delta.stop_reason.is_some() {
                    self.raw_finish = delta.stop_reason;
                }
                if let Some(usage) = &usage {
                    self.usage.merge(usage);
                }
            }
            Event::MessageStop => {
                self.require_start()?;
                if self
                    .open
                    .iter()
                    .any(|(_, b)| matches!(b, OpenBlock::Tool { .. }))
                {
                    return Err(Error::malformed(
                        &self.provider,
                        "message_stop with a tool_use block still open",
                    ));
                }
                self.life.finish();
                out.push(StreamEvent::Finish {
                    finish_reason: finish_reason(self.raw_finish.as_deref(), self.calls > 0),
                    raw_finish_reason: self.raw_finish.clone(),
                    usage: self.usage.normalise(),
                });
            }
            Event::Error { error } => {
                let body = serde_json::json!({ "error": error }).to_string();
                return Err(super::error::decode(&self.provider, None, body.as_bytes()));
            }
            Event::Ping | Event::Unknown => {}
        }
        Ok(())
    }

    fn is_done(&self) -> bool {
        self.life.is_done()
    }

    fn on_end(&mut self, _out: &mut Vec<StreamEvent>) -> Result<()> {
        self.life.end(&self.provider, "`message_stop`")
    }
}
