//! Decodes Messages stream events (`message_start`, `content_block_*`, `message_delta`,
//! `message_stop`, `ping`, `error`) into normalised events.

use serde::Deserialize;
use serde_json::Value;

use super::response::{finish_reason, Block, WireUsage};
use super::NAME;
use crate::error::{Error, ErrorKind, Result};
use crate::event::StreamEvent;
use crate::ids::IdNormalizer;
use crate::response::parse_arguments;
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
    InputJsonDelta {
        #[serde(default)]
        partial_json: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize, Default)]
struct MessageDelta {
    #[serde(default)]
    stop_reason: Option<String>,
}

/// A tool_use block being assembled: its position among calls and its JSON so far.
struct OpenTool {
    block: usize,
    call: usize,
    name: String,
    json: String,
}

#[derive(Default)]
pub(super) struct Decoder {
    started: bool,
    usage: WireUsage,
    open: Vec<OpenTool>,
    calls: usize,
    ids: IdNormalizer,
    raw_finish: Option<String>,
    done: bool,
}

impl Decoder {
    fn require_start(&self) -> Result<()> {
        if self.started {
            Ok(())
        } else {
            Err(Error::malformed(NAME, "stream event before message_start"))
        }
    }
}

impl StreamDecoder for Decoder {
    fn on_event(&mut self, _name: &str, data: &str, out: &mut Vec<StreamEvent>) -> Result<()> {
        // The `type` inside the data repeats the `event:` name; the data is authoritative.
        let event: Event = serde_json::from_str(data)
            .map_err(|e| Error::malformed(NAME, format!("stream event does not parse: {e}")))?;
        match event {
            Event::MessageStart { message } => {
                if !self.started {
                    self.started = true;
                    out.push(StreamEvent::Start {
                        id: message.id.unwrap_or_default(),
                        model: message.model.unwrap_or_default(),
                    });
                }
                if let Some(usage) = &message.usage {
                    self.usage.merge(usage);
                }
            }
            Event::ContentBlockStart {
                index,
                content_block,
            } => {
                self.require_start()?;
                match content_block {
                    Block::Text { text } if !text.is_empty() => {
                        out.push(StreamEvent::TextDelta { text })
                    }
                    Block::Thinking { thinking } if !thinking.is_empty() => {
                        out.push(StreamEvent::ReasoningDelta { text: thinking })
                    }
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
                        // The start block's `input` is `{}`; a non-empty one is kept as the
                        // starting JSON for servers that send the input whole.
                        let json = match input {
                            Value::Object(o) if !o.is_empty() => Value::Object(o).to_string(),
                            _ => String::new(),
                        };
                        self.open.push(OpenTool {
                            block: index,
                            call,
                            name,
                            json,
                        });
                    }
                    _ => {}
                }
            }
            Event::ContentBlockDelta { index, delta } => {
                self.require_start()?;
                match delta {
                    BlockDelta::TextDelta { text } => out.push(StreamEvent::TextDelta { text }),
                    BlockDelta::ThinkingDelta { thinking } => {
                        out.push(StreamEvent::ReasoningDelta { text: thinking })
                    }
                    BlockDelta::InputJsonDelta { partial_json } => {
                        let tool = self
                            .open
                            .iter_mut()
                            .find(|t| t.block == index)
                            .ok_or_else(|| Error::malformed(NAME, format!("input_json_delta for block {index}, which is not a tool_use")))?;
                        tool.json.push_str(&partial_json);
                        out.push(StreamEvent::ToolCallDelta {
                            index: tool.call,
                            arguments: partial_json,
                        });
                    }
                    BlockDelta::Other => {}
                }
            }
            Event::ContentBlockStop { index } => {
                if let Some(at) = self.open.iter().position(|t| t.block == index) {
                    let tool = self.open.remove(at);
                    let arguments = parse_arguments(NAME, &tool.name, &tool.json)?;
                    out.push(StreamEvent::ToolCallEnd {
                        index: tool.call,
                        arguments,
                    });
                }
            }
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
                if !self.open.is_empty() {
                    return Err(Error::malformed(
                        NAME,
                        "message_stop with a tool_use block still open",
                    ));
                }
                self.done = true;
                out.push(StreamEvent::Finish {
                    finish_reason: finish_reason(self.raw_finish.as_deref())
                        .with_tool_calls(self.calls > 0),
                    raw_finish_reason: self.raw_finish.clone(),
                    usage: self.usage.normalise(),
                });
            }
            Event::Error { error } => {
                let body = serde_json::json!({ "error": error }).to_string();
                return Err(super::error::decode(None, body.as_bytes()));
            }
            Event::Ping | Event::Unknown => {}
        }
        Ok(())
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn on_end(&mut self, _out: &mut Vec<StreamEvent>) -> Result<()> {
        if self.done {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::StreamInterrupted,
            NAME,
            "the stream ended without `message_stop`",
        ))
    }
}
