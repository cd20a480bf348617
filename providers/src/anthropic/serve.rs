//! The server side of Messages (contract A3), the mirror of `request.rs`, `response.rs` and
//! `stream.rs`: a body an Anthropic client sent, read into a [`Request`]; an answer, a stream
//! and an error written the way an Anthropic client reads them. Fields concord cannot carry to
//! every vendor are refused by name (`serve::BadRequest`), never dropped.

use serde_json::{json, Map, Value};

use crate::error::ErrorKind;
use crate::event::StreamEvent;
use crate::request::{
    ContentPart, ImageSource, Message, ReasoningBlock, ReasoningOptions, Request, ResponseFormat,
    Tool, ToolCall, ToolChoice,
};
use crate::response::{FinishReason, Response, Usage};
use crate::serve::{item, object, BadRequest, Fields};

/// A Messages request as a client sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// The `model` it names.
    pub model: Option<String>,
    /// `stream: true`.
    pub stream: bool,
    /// The request itself (`max_tokens` in `params.max_output_tokens`).
    pub request: Request,
}

/// Reads a `POST /v1/messages` body.
pub fn decode_request(body: &[u8]) -> Result<Incoming, BadRequest> {
    let map = object(body)?;
    let mut f = Fields::new("", &map);
    let model = f.string("model")?;
    let stream = f.bool("stream")?.unwrap_or(false);
    let mut messages = Vec::new();
    match f.get("system") {
        None => {}
        Some(Value::String(s)) => messages.push(Message::system(s.clone())),
        Some(Value::Array(blocks)) => {
            let text = text_blocks("system", blocks)?;
            messages.push(Message::system(text));
        }
        Some(_) => {
            return Err(BadRequest::at(
                "system",
                "system must be a string or an array of text blocks",
            ))
        }
    }
    let turns = f
        .array("messages")?
        .ok_or_else(|| BadRequest::at("messages", "messages is required"))?;
    for (i, m) in turns.iter().enumerate() {
        turn(&format!("messages[{i}]"), m, &mut messages)?;
    }
    let mut request = Request {
        messages,
        ..Request::default()
    };
    if let Some(tools) = f.array("tools")? {
        request.tools = tools
            .iter()
            .enumerate()
            .map(|(i, t)| tool(&format!("tools[{i}]"), t))
            .collect::<Result<_, _>>()?;
    }
    if let Some(choice) = f.object("tool_choice")? {
        request.tool_choice = Some(tool_choice(choice)?);
    }
    let p = &mut request.params;
    p.max_output_tokens = f.count("max_tokens")?;
    p.temperature = f.number("temperature")?;
    p.top_p = f.number("top_p")?;
    if let Some(stops) = f.array("stop_sequences")? {
        p.stop = stops
            .iter()
            .map(|s| {
                s.as_str().map(str::to_owned).ok_or_else(|| {
                    BadRequest::at("stop_sequences", "stop_sequences must be strings")
                })
            })
            .collect::<Result<_, _>>()?;
    }
    if let Some(config) = f.object("output_config")? {
        request.response_format = output_config(config)?;
    }
    if let Some(thinking) = f.object("thinking")? {
        let mut t = Fields::new("thinking", thinking);
        match t.required_string("type")?.as_str() {
            "enabled" => {
                request.reasoning = Some(ReasoningOptions {
                    budget_tokens: t.count("budget_tokens")?,
                    effort: None,
                });
            }
            "disabled" => {}
            other => {
                return Err(BadRequest::at(
                    "thinking.type",
                    format!("thinking.type {other:?}: enabled or disabled"),
                ))
            }
        }
        t.done()?;
    }
    f.done()?;
    Ok(Incoming {
        model,
        stream,
        request,
    })
}

/// `output_config` (structured outputs): `{"format": {"type": "json_schema", "schema": …}}`.
/// Anthropic names no schema and always holds the answer to it: the contract's format gets
/// the name `response` and `strict`.
fn output_config(o: &Map<String, Value>) -> Result<Option<ResponseFormat>, BadRequest> {
    let mut f = Fields::new("output_config", o);
    let Some(format) = f.object("format")? else {
        f.done()?;
        return Ok(None);
    };
    let mut g = Fields::new("output_config.format", format);
    let out = match g.required_string("type")?.as_str() {
        "json_schema" => {
            let schema = g.get("schema").cloned().ok_or_else(|| {
                BadRequest::at("output_config.format.schema", "schema is required")
            })?;
            ResponseFormat {
                name: "response".into(),
                schema,
                strict: true,
            }
        }
        other => {
            return Err(BadRequest::at(
                "output_config.format.type",
                format!(
                    "output_config.format.type {other:?}: json_schema is the one concord carries"
                ),
            ))
        }
    };
    g.done()?;
    f.done()?;
    Ok(Some(out))
}

/// The text of an array of text blocks.
fn text_blocks(path: &str, blocks: &[Value]) -> Result<String, BadRequest> {
    let mut text = String::new();
    for (i, b) in blocks.iter().enumerate() {
        let at = format!("{path}[{i}]");
        let mut f = Fields::new(at.clone(), item(&at, b)?);
        match f.required_string("type")?.as_str() {
            "text" => text.push_str(&f.required_string("text")?),
            other => {
                return Err(BadRequest::at(
                    format!("{at}.type"),
                    format!("{at}: a {other:?} block is not supported here; send text"),
                ))
            }
        }
        f.done()?;
    }
    Ok(text)
}

/// One turn; a user turn's tool results become tool messages, in order.
fn turn(path: &str, v: &Value, out: &mut Vec<Message>) -> Result<(), BadRequest> {
    let mut f = Fields::new(path, item(path, v)?);
    let role = f.required_string("role")?;
    let content = f
        .get("content")
        .ok_or_else(|| BadRequest::at(f.path("content"), format!("{path}.content is required")))?;
    let blocks: Vec<Value> = match content {
        Value::String(s) => vec![json!({"type": "text", "text": s})],
        Value::Array(a) => a.clone(),
        _ => {
            return Err(BadRequest::at(
                f.path("content"),
                format!("{path}.content must be a string or an array of blocks"),
            ))
        }
    };
    let content_path = f.path("content");
    f.done()?;
    match role.as_str() {
        "user" => {
            let mut parts = Vec::new();
            for (i, b) in blocks.iter().enumerate() {
                let at = format!("{content_path}[{i}]");
                let mut g = Fields::new(at.clone(), item(&at, b)?);
                match g.required_string("type")?.as_str() {
                    "text" => parts.push(ContentPart::Text {
                        text: g.required_string("text")?,
                    }),
                    "image" => {
                        let source = g.object("source")?.ok_or_else(|| {
                            BadRequest::at(format!("{at}.source"), "source is required")
                        })?;
                        parts.push(ContentPart::Image {
                            source: image(&format!("{at}.source"), source)?,
                        });
                    }
                    "tool_result" => {
                        if !parts.is_empty() {
                            out.push(Message::User {
                                content: std::mem::take(&mut parts),
                            });
                        }
                        let call_id = g.required_string("tool_use_id")?;
                        let content = match g.get("content") {
                            None => String::new(),
                            Some(Value::String(s)) => s.clone(),
                            Some(Value::Array(a)) => text_blocks(&format!("{at}.content"), a)?,
                            Some(_) => {
                                return Err(BadRequest::at(
                                    format!("{at}.content"),
                                    "a tool result's content is a string or text blocks",
                                ))
                            }
                        };
                        out.push(Message::Tool {
                            call_id,
                            content,
                            is_error: g.bool("is_error")?.unwrap_or(false),
                        });
                    }
                    other => {
                        return Err(BadRequest::at(
                            format!("{at}.type"),
                            format!(
                                "{at}: a {other:?} block is not supported in a user turn (text, image, tool_result)"
                            ),
                        ))
                    }
                }
                g.done()?;
            }
            if !parts.is_empty() {
                out.push(Message::User { content: parts });
            }
        }
        "assistant" => {
            let (mut text, mut tool_calls, mut reasoning) = (String::new(), Vec::new(), Vec::new());
            let mut pending_signature = None;
            for (i, b) in blocks.iter().enumerate() {
                let at = format!("{content_path}[{i}]");
                let mut g = Fields::new(at.clone(), item(&at, b)?);
                match g.required_string("type")?.as_str() {
                    "text" => text.push_str(&g.required_string("text")?),
                    "tool_use" => {
                        let signature = pending_signature.take();
                        let id = g.required_string("id")?;
                        let name = g.required_string("name")?;
                        let input = g.get("input").cloned().unwrap_or_else(|| json!({}));
                        let arguments = crate::kit::arguments_object("request", &name, input)
                            .map_err(|e| BadRequest::at(format!("{at}.input"), e.message))?;
                        tool_calls.push(ToolCall {
                            provider_id: Some(id.clone()),
                            id,
                            name,
                            arguments,
                            signature,
                        });
                    }
                    "thinking" => reasoning.push(ReasoningBlock {
                        text: g.string("thinking")?.unwrap_or_default(),
                        signature: g.string("signature")?.filter(|s| !s.is_empty()),
                        ..ReasoningBlock::default()
                    }),
                    "redacted_thinking" => {
                        let data = g.string("data")?;
                        match data.as_deref().and_then(uncarry) {
                            Some(Carried::Signature(s)) => pending_signature = Some(s),
                            Some(Carried::Block(block)) => {
                                // A summary written before it as plain thinking is its text.
                                let text = match reasoning.last() {
                                    Some(b @ ReasoningBlock { signature: None, redacted: None, encrypted_content: None, .. }) => {
                                        let text = b.text.clone();
                                        reasoning.pop();
                                        text
                                    }
                                    _ => String::new(),
                                };
                                reasoning.push(ReasoningBlock { text, ..block });
                            }
                            None => reasoning.push(ReasoningBlock {
                                redacted: data,
                                ..ReasoningBlock::default()
                            }),
                        }
                    }
                    other => {
                        return Err(BadRequest::at(
                            format!("{at}.type"),
                            format!(
                                "{at}: a {other:?} block is not supported in an assistant turn (text, tool_use, thinking)"
                            ),
                        ))
                    }
                }
                g.done()?;
            }
            out.push(Message::Assistant {
                content: text,
                tool_calls,
                reasoning,
            });
        }
        other => {
            return Err(BadRequest::at(
                format!("{path}.role"),
                format!("{path}.role {other:?}: user or assistant (the system prompt is `system`)"),
            ))
        }
    }
    Ok(())
}

fn image(path: &str, source: &Map<String, Value>) -> Result<ImageSource, BadRequest> {
    let mut f = Fields::new(path, source);
    let s = match f.required_string("type")?.as_str() {
        "base64" => ImageSource::Base64 {
            media_type: f.required_string("media_type")?,
            data: f.required_string("data")?,
        },
        "url" => ImageSource::Url {
            url: f.required_string("url")?,
        },
        other => {
            return Err(BadRequest::at(
                format!("{path}.type"),
                format!("{path}.type {other:?}: base64 or url"),
            ))
        }
    };
    f.done()?;
    Ok(s)
}

fn tool(path: &str, v: &Value) -> Result<Tool, BadRequest> {
    let mut f = Fields::new(path, item(path, v)?);
    if let Some(kind) = f.string("type")? {
        if kind != "custom" {
            return Err(BadRequest::at(
                f.path("type"),
                format!(
                    "{}: {kind:?} is a tool Anthropic runs itself; this server carries client tools only",
                    f.path("type")
                ),
            ));
        }
    }
    let name = f.required_string("name")?;
    let description = f.string("description")?.unwrap_or_default();
    let parameters = f
        .get("input_schema")
        .cloned()
        .ok_or_else(|| BadRequest::at(f.path("input_schema"), "input_schema is required"))?;
    f.done()?;
    Ok(Tool {
        name,
        description,
        parameters,
    })
}

fn tool_choice(o: &Map<String, Value>) -> Result<ToolChoice, BadRequest> {
    let mut f = Fields::new("tool_choice", o);
    let choice = match f.required_string("type")?.as_str() {
        "auto" => ToolChoice::Auto,
        "any" => ToolChoice::Required,
        "none" => ToolChoice::None,
        "tool" => ToolChoice::Named(f.required_string("name")?),
        other => {
            return Err(BadRequest::at(
                "tool_choice.type",
                format!("tool_choice.type {other:?}: auto, any, tool or none"),
            ))
        }
    };
    f.done()?;
    Ok(choice)
}

/// The `stop_reason` an Anthropic client knows for `reason`.
pub fn stop_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Length => "max_tokens",
        FinishReason::ToolCalls => "tool_use",
        FinishReason::ContentFilter => "refusal",
        FinishReason::Stop | FinishReason::Error | FinishReason::Other => "end_turn",
    }
}

/// The `usage` object: Anthropic's `input_tokens` leaves out the cache reads and writes that
/// B2's include.
/// A count the usage does not know is left out, not written as 0; cache writes kept for an
/// hour are told apart in `cache_creation` as Anthropic does.
pub fn usage(u: &Usage) -> Value {
    let read = u.cache_read_tokens.unwrap_or(0);
    let write = u.cache_write_tokens.unwrap_or(0);
    let mut out = json!({
        "input_tokens": u.input_tokens.unwrap_or(0).saturating_sub(read + write),
        "output_tokens": u.output_tokens.unwrap_or(0),
    });
    if let Some(write) = u.cache_write_tokens {
        out["cache_creation_input_tokens"] = write.into();
    }
    if let Some(read) = u.cache_read_tokens {
        out["cache_read_input_tokens"] = read.into();
    }
    if let Some(hour) = u.cache_write_1h_tokens {
        out["cache_creation"] = json!({
            "ephemeral_5m_input_tokens": write.saturating_sub(hour),
            "ephemeral_1h_input_tokens": hour,
        });
    }
    out
}

/// Replay data Messages has no field for — an OpenAI Responses block's `encrypted_content`,
/// a Gemini function call's thought signature — travels to the client in a
/// `redacted_thinking` block's `data`, which Anthropic clients send back unchanged, under this
/// prefix (docs/server.md); the door takes it out again when the history comes back.
const CARRIED: &str = "concord.carried:";

enum Carried {
    Block(ReasoningBlock),
    Signature(String),
}

fn carry_block(b: &ReasoningBlock) -> String {
    format!(
        "{CARRIED}{}",
        json!({"encrypted_content": b.encrypted_content, "id": b.id})
    )
}

fn carry_signature(signature: &str) -> String {
    format!("{CARRIED}{}", json!({ "thought_signature": signature }))
}

fn uncarry(data: &str) -> Option<Carried> {
    let v: Value = serde_json::from_str(data.strip_prefix(CARRIED)?).ok()?;
    if let Some(s) = v.get("thought_signature").and_then(Value::as_str) {
        return Some(Carried::Signature(s.to_owned()));
    }
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    Some(Carried::Block(ReasoningBlock {
        encrypted_content: Some(text("encrypted_content")?),
        id: text("id"),
        ..ReasoningBlock::default()
    }))
}

/// A `message` object for `response`.
pub fn encode_response(response: &Response, id: &str, model: &str) -> Value {
    let mut content = Vec::new();
    for b in &response.reasoning_blocks {
        match (&b.redacted, &b.encrypted_content) {
            (Some(data), _) => content.push(json!({"type": "redacted_thinking", "data": data})),
            (None, Some(_)) => {
                if !b.text.is_empty() {
                    content.push(json!({"type": "thinking", "thinking": b.text, "signature": ""}));
                }
                content.push(json!({"type": "redacted_thinking", "data": carry_block(b)}));
            }
            (None, None) => content.push(json!({"type": "thinking", "thinking": b.text,
                "signature": b.signature.clone().unwrap_or_default()})),
        }
    }
    if response.reasoning_blocks.is_empty() {
        if let Some(r) = &response.reasoning {
            content.push(json!({"type": "thinking", "thinking": r, "signature": ""}));
        }
    }
    if !response.text.is_empty() || response.tool_calls.is_empty() {
        content.push(json!({"type": "text", "text": response.text}));
    }
    for c in &response.tool_calls {
        if let Some(s) = &c.signature {
            content.push(json!({"type": "redacted_thinking", "data": carry_signature(s)}));
        }
        content.push(json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}));
    }
    json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(response.finish_reason),
        "stop_sequence": null,
        "usage": usage(&response.usage),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
    Tool(usize),
}

/// Writes a stream's events as Messages' server-sent events (`(event name, data)`), one event
/// at a time, opening and closing content blocks as the kind of output changes.
#[derive(Debug)]
pub struct EventEncoder {
    id: String,
    model: String,
    index: usize,
    open: Option<Open>,
    streamed_arguments: Vec<usize>,
}

impl EventEncoder {
    /// Events of message `id`, answered as `model`.
    pub fn new(id: &str, model: &str) -> Self {
        Self {
            id: id.to_owned(),
            model: model.to_owned(),
            index: 0,
            open: None,
            streamed_arguments: Vec::new(),
        }
    }

    fn close(&mut self, out: &mut Vec<(&'static str, Value)>) {
        if self.open.take().is_some() {
            out.push((
                "content_block_stop",
                json!({"type": "content_block_stop", "index": self.index}),
            ));
            self.index += 1;
        }
    }

    /// A block sent whole: its start and its stop (redacted thinking has no deltas).
    fn whole_block(&mut self, block: Value, out: &mut Vec<(&'static str, Value)>) {
        self.close(out);
        out.push((
            "content_block_start",
            json!({"type": "content_block_start", "index": self.index, "content_block": block}),
        ));
        out.push((
            "content_block_stop",
            json!({"type": "content_block_stop", "index": self.index}),
        ));
        self.index += 1;
    }

    fn ensure(&mut self, want: Open, block: Value, out: &mut Vec<(&'static str, Value)>) {
        if self.open != Some(want) {
            self.close(out);
            out.push((
                "content_block_start",
                json!({"type": "content_block_start", "index": self.index, "content_block": block}),
            ));
            self.open = Some(want);
        }
    }

    fn delta(&self, delta: Value) -> (&'static str, Value) {
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": self.index, "delta": delta}),
        )
    }

    /// The `(event, data)` pairs (zero or more) for `event`.
    pub fn event(&mut self, event: &StreamEvent) -> Vec<(&'static str, Value)> {
        let mut out = Vec::new();
        match event {
            StreamEvent::Start { .. } => out.push((
                "message_start",
                json!({"type": "message_start", "message": {
                    "id": self.id, "type": "message", "role": "assistant", "model": self.model,
                    "content": [], "stop_reason": null, "stop_sequence": null,
                    // The counts come with the finish (B4); message_delta carries them.
                    "usage": {"input_tokens": 0, "output_tokens": 0}}}),
            )),
            StreamEvent::TextDelta { text } => {
                self.ensure(Open::Text, json!({"type": "text", "text": ""}), &mut out);
                out.push(self.delta(json!({"type": "text_delta", "text": text})));
            }
            StreamEvent::ReasoningDelta { text } => {
                self.ensure(
                    Open::Thinking,
                    json!({"type": "thinking", "thinking": "", "signature": ""}),
                    &mut out,
                );
                out.push(self.delta(json!({"type": "thinking_delta", "thinking": text})));
            }
            StreamEvent::ReasoningEnd {
                signature,
                redacted,
                encrypted_content,
                id,
            } => {
                if self.open == Some(Open::Thinking) {
                    if let Some(sig) = signature {
                        out.push(self.delta(json!({"type": "signature_delta", "signature": sig})));
                    }
                    self.close(&mut out);
                }
                let data = match (redacted, encrypted_content) {
                    (Some(data), _) => Some(data.clone()),
                    (None, Some(encrypted)) => Some(carry_block(&ReasoningBlock {
                        encrypted_content: Some(encrypted.clone()),
                        id: id.clone(),
                        ..ReasoningBlock::default()
                    })),
                    (None, None) => None,
                };
                if let Some(data) = data {
                    self.whole_block(json!({"type": "redacted_thinking", "data": data}), &mut out);
                }
            }
            StreamEvent::ToolCallStart {
                index,
                id,
                name,
                signature,
                ..
            } => {
                self.close(&mut out);
                if let Some(s) = signature {
                    self.whole_block(
                        json!({"type": "redacted_thinking", "data": carry_signature(s)}),
                        &mut out,
                    );
                }
                self.ensure(
                    Open::Tool(*index),
                    json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                    &mut out,
                );
            }
            StreamEvent::ToolCallDelta { index, arguments } => {
                if self.open == Some(Open::Tool(*index)) {
                    self.streamed_arguments.push(*index);
                    out.push(
                        self.delta(json!({"type": "input_json_delta", "partial_json": arguments})),
                    );
                }
            }
            StreamEvent::ToolCallEnd { index, arguments } => {
                if self.open == Some(Open::Tool(*index)) {
                    if !self.streamed_arguments.contains(index) {
                        out.push(self.delta(
                            json!({"type": "input_json_delta", "partial_json": arguments.to_string()}),
                        ));
                    }
                    self.close(&mut out);
                }
            }
            StreamEvent::Finish {
                finish_reason,
                usage: u,
                ..
            } => {
                self.close(&mut out);
                out.push((
                    "message_delta",
                    json!({"type": "message_delta",
                        "delta": {"stop_reason": stop_reason(*finish_reason), "stop_sequence": null},
                        "usage": usage(u)}),
                ));
                out.push(("message_stop", json!({"type": "message_stop"})));
            }
        }
        out
    }
}

/// The HTTP status and `{"type": "error", "error": {…}}` body an Anthropic client reads for
/// an error of `kind`.
pub fn error(kind: ErrorKind, message: &str) -> (u16, Value) {
    let (status, name) = match kind {
        ErrorKind::InvalidRequest
        | ErrorKind::MissingRuntimeContext
        | ErrorKind::ContextLengthExceeded => (400, "invalid_request_error"),
        ErrorKind::Authentication => (401, "authentication_error"),
        ErrorKind::PermissionDenied => (403, "permission_error"),
        ErrorKind::NotFound => (404, "not_found_error"),
        ErrorKind::RateLimited => (429, "rate_limit_error"),
        // Anthropic's word for an account out of credit (its status is 402; a quota or budget
        // here says when to come back, as a 429 does).
        ErrorKind::QuotaExceeded => (429, "billing_error"),
        ErrorKind::Overloaded => (529, "overloaded_error"),
        ErrorKind::Timeout => (504, "timeout_error"),
        ErrorKind::ServerError => (500, "api_error"),
        // Anthropic has no type for these: concord's kind name (`ErrorKind::from_name`).
        ErrorKind::Unsupported | ErrorKind::ContentFilter => (400, kind.as_str()),
        ErrorKind::Unavailable => (503, kind.as_str()),
        _ => (502, kind.as_str()),
    };
    // Anthropic's clients (and concord's) know a prompt over the window by these words.
    let message = if kind == ErrorKind::ContextLengthExceeded
        && !message.to_ascii_lowercase().contains("prompt is too long")
    {
        format!("prompt is too long: {message}")
    } else {
        message.to_owned()
    };
    (
        status,
        json!({"type": "error", "error": {"type": name, "message": message}}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_messages_request_reads_into_the_contract() {
        let got = decode_request(
            br#"{"model":"claude-sonnet-4-5","max_tokens":256,"system":[{"type":"text","text":"be brief"}],
            "messages":[{"role":"user","content":"weather?"},
              {"role":"assistant","content":[{"type":"thinking","thinking":"hm","signature":"sig"},
                {"type":"tool_use","id":"toolu_1","name":"w","input":{"city":"Paris"}}]},
              {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"18 C"},
                {"type":"text","text":"and tomorrow?"}]}],
            "tools":[{"name":"w","input_schema":{"type":"object"}}],
            "tool_choice":{"type":"any"},"thinking":{"type":"enabled","budget_tokens":2048}}"#,
        )
        .unwrap();
        let r = got.request;
        assert_eq!(r.messages[0], Message::system("be brief"));
        assert!(
            matches!(&r.messages[2], Message::Assistant { tool_calls, reasoning, .. }
            if tool_calls[0].arguments == json!({"city": "Paris"}) && reasoning[0].signature.as_deref() == Some("sig"))
        );
        assert!(
            matches!(&r.messages[3], Message::Tool { call_id, content, .. } if call_id == "toolu_1" && content == "18 C")
        );
        assert!(matches!(&r.messages[4], Message::User { .. }));
        assert_eq!(r.tool_choice, Some(ToolChoice::Required));
        assert_eq!(r.params.max_output_tokens, Some(256));
        assert_eq!(r.reasoning.unwrap().budget_tokens, Some(2048));
        let e =
            decode_request(br#"{"model":"m","max_tokens":1,"messages":[],"top_k":5}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("top_k"));
        let e = decode_request(
            br#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"text","text":"x","cache_control":{"type":"ephemeral"}}]}]}"#,
        )
        .unwrap_err();
        assert_eq!(
            e.param.as_deref(),
            Some("messages[0].content[0].cache_control")
        );
        // What the official SDK writes back from a parsed answer: every optional field, `null`.
        let ok = decode_request(
            br#"{"model":"m","max_tokens":1,"messages":[{"role":"assistant","content":[
              {"type":"text","text":"hi","citations":null},
              {"type":"tool_use","id":"t","name":"w","input":{},"caller":null}]}]}"#,
        );
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn a_stream_opens_and_closes_one_block_per_kind_of_output() {
        let mut enc = EventEncoder::new("msg_1", "m");
        let events = [
            StreamEvent::Start {
                id: "msg_1".into(),
                model: "m".into(),
            },
            StreamEvent::ReasoningDelta { text: "hm".into() },
            StreamEvent::TextDelta { text: "Hi".into() },
            StreamEvent::TextDelta { text: "!".into() },
            StreamEvent::ToolCallStart {
                index: 0,
                id: "call_1".into(),
                provider_id: None,
                name: "w".into(),
                signature: None,
            },
            StreamEvent::ToolCallEnd {
                index: 0,
                arguments: json!({"a": 1}),
            },
            StreamEvent::Finish {
                finish_reason: FinishReason::ToolCalls,
                raw_finish_reason: None,
                usage: Usage::new(Some(10), Some(5)),
            },
        ];
        let names: Vec<&str> = events
            .iter()
            .flat_map(|e| enc.event(e))
            .map(|(name, _)| name)
            .collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
    }
}
