//! Decodes Responses API stream events (`event:`-named frames, each with a `type` and a
//! `sequence_number`, no `[DONE]`). The stream ends on `response.completed`,
//! `response.incomplete` or `response.failed` (or an `error` event); the bytes ending before one
//! of them is `stream_interrupted`.
//!
//! Function-call argument deltas carry only the item id, so calls are keyed by it from
//! `response.output_item.added`, where the `call_id` comes from. Items the stream never showed
//! (a server that sends only the terminal event) are taken from the final response object.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use serde_json::Value;

use super::response::{
    failure, finish, reasoning_text, tool_call, Item, WireResponse, PART_SEPARATOR,
};
use crate::error::{Error, Result};
use crate::event::StreamEvent;
use crate::ids::IdNormalizer;
use crate::kit::{parse_arguments, StreamLife};
use crate::wire::StreamDecoder;

/// The fields of a stream event concord reads; everything else is ignored. Fields whose type
/// differs between events (`delta` is text for output text, an object for hosted-tool output)
/// are read loosely, so an event concord does not act on can never fail the stream.
#[derive(Deserialize, Default)]
struct Event {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    response: Option<Value>,
    #[serde(default)]
    item: Option<Value>,
    #[serde(default)]
    item_id: Option<Value>,
    #[serde(default)]
    output_index: Option<Value>,
    #[serde(default)]
    summary_index: Option<Value>,
    #[serde(default)]
    content_index: Option<Value>,
    #[serde(default)]
    delta: Option<Value>,
    #[serde(default)]
    arguments: Option<Value>,
    /// The whole text of a part, on `*.done` events.
    #[serde(default)]
    text: Option<Value>,
    #[serde(default)]
    refusal: Option<Value>,
    /// An `error` event's object (recorded streams nest it; the API reference has the fields
    /// flat on the event, which `error_event` reads).
    #[serde(default)]
    error: Option<Value>,
    #[serde(default)]
    code: Option<Value>,
    #[serde(default)]
    message: Option<Value>,
}

fn text(v: Option<Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

fn index(v: &Option<Value>) -> Option<usize> {
    v.as_ref()?.as_u64().and_then(|n| usize::try_from(n).ok())
}

/// The output items a stream has shown: by id (ids are stable; some servers number output
/// indexes differently in events and in the final object), by index for items without one.
#[derive(Default)]
struct Seen {
    ids: HashSet<String>,
    indexes: HashSet<usize>,
}

impl Seen {
    fn mark(&mut self, id: Option<&str>, index: Option<usize>) {
        match (id.filter(|id| !id.is_empty()), index) {
            (Some(id), _) => {
                self.ids.insert(id.to_owned());
            }
            (None, Some(i)) => {
                self.indexes.insert(i);
            }
            (None, None) => {}
        }
    }

    fn contains(&self, id: Option<&str>, index: usize) -> bool {
        match id.filter(|id| !id.is_empty()) {
            Some(id) => self.ids.contains(id),
            None => self.indexes.contains(&index),
        }
    }
}

/// A function call being streamed.
struct OpenCall {
    item_id: String,
    index: usize,
    name: String,
    arguments: String,
    ended: bool,
}

pub(super) struct Decoder {
    provider: String,
    life: StreamLife,
    ids: IdNormalizer,
    calls: Vec<OpenCall>,
    /// Output items the stream has shown.
    seen: Seen,
    /// The reasoning piece (item, part) deltas last went to, and whether any reasoning was sent.
    reasoning_piece: Option<(String, usize)>,
    reasoning_sent: bool,
    /// The text each part has streamed so far, to reconcile with its `*.done` event.
    parts: HashMap<(String, usize), String>,
    refused: bool,
}

impl Decoder {
    pub(super) fn new(provider: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            life: StreamLife::default(),
            ids: IdNormalizer::default(),
            calls: Vec::new(),
            seen: Seen::default(),
            reasoning_piece: None,
            reasoning_sent: false,
            parts: HashMap::new(),
            refused: false,
        }
    }

    /// A reasoning delta; a new piece starts after a blank line, as `decode` joins them.
    fn reasoning(&mut self, piece: (String, usize), text: String, out: &mut Vec<StreamEvent>) {
        if text.is_empty() {
            return;
        }
        if self.reasoning_piece.as_ref() != Some(&piece) {
            if self.reasoning_sent {
                out.push(StreamEvent::ReasoningDelta {
                    text: PART_SEPARATOR.to_owned(),
                });
            }
            self.reasoning_piece = Some(piece);
        }
        self.reasoning_sent = true;
        out.push(StreamEvent::ReasoningDelta { text });
    }

    /// Records a delta of part `key`; at its `*.done` (`whole` set), returns what the deltas
    /// left out: servers that send the text only in `.done` (or recordings with deltas dropped)
    /// still give the whole text, and a stream never repeats what it already sent.
    fn part_text(
        &mut self,
        key: (String, usize),
        delta: Option<String>,
        whole: Option<String>,
    ) -> String {
        let sent = self.parts.entry(key).or_default();
        match (delta, whole) {
            (Some(delta), _) => {
                sent.push_str(&delta);
                delta
            }
            (None, Some(whole)) => match whole.strip_prefix(sent.as_str()) {
                Some(rest) if !rest.is_empty() => {
                    let rest = rest.to_owned();
                    sent.push_str(&rest);
                    rest
                }
                _ => String::new(),
            },
            (None, None) => String::new(),
        }
    }

    fn open_call(
        &mut self,
        item_id: String,
        call_id: Option<String>,
        name: String,
        out: &mut Vec<StreamEvent>,
    ) {
        if self.calls.iter().any(|c| c.item_id == item_id) {
            return;
        }
        let index = self.calls.len();
        let call_id = call_id.filter(|id| !id.is_empty());
        out.push(StreamEvent::ToolCallStart {
            index,
            id: self.ids.next(call_id.as_deref()),
            provider_id: call_id,
            name: name.clone(),
            signature: None,
        });
        self.calls.push(OpenCall {
            item_id,
            index,
            name,
            arguments: String::new(),
            ended: false,
        });
    }

    /// Ends a call with its complete arguments (from `.done` or the finished item when given,
    /// else what the deltas built).
    fn end_call(
        &mut self,
        item_id: &str,
        arguments: Option<String>,
        out: &mut Vec<StreamEvent>,
    ) -> Result<()> {
        let Some(call) = self.calls.iter_mut().find(|c| c.item_id == item_id) else {
            return Ok(());
        };
        if call.ended {
            return Ok(());
        }
        if let Some(whole) = arguments {
            call.arguments = whole;
        }
        call.ended = true;
        let arguments = parse_arguments(&self.provider, &call.name, &call.arguments)?;
        out.push(StreamEvent::ToolCallEnd {
            index: call.index,
            arguments,
        });
        Ok(())
    }

    fn item_added(&mut self, output_index: Option<usize>, item: Value, out: &mut Vec<StreamEvent>) {
        let item_id = item
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        self.seen.mark(Some(&item_id), output_index);
        if let Ok(Item::FunctionCall { call_id, name, .. }) = serde_json::from_value(item) {
            self.open_call(item_id, call_id, name, out);
        }
    }

    fn item_done(&mut self, item: Value, out: &mut Vec<StreamEvent>) -> Result<()> {
        let item_id = item
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        match serde_json::from_value(item) {
            Ok(Item::FunctionCall {
                call_id,
                name,
                arguments,
                ..
            }) => {
                // A call whose `added` event was missed still counts.
                self.open_call(item_id.clone(), call_id, name, out);
                self.end_call(&item_id, arguments, out)
            }
            Ok(Item::Reasoning {
                id,
                encrypted_content: Some(encrypted_content),
                ..
            }) => {
                out.push(StreamEvent::ReasoningEnd {
                    signature: None,
                    redacted: None,
                    encrypted_content: Some(encrypted_content),
                    id,
                });
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Items of the final response the stream never showed, emitted now so a server that sends
    /// only the terminal event still gives the whole answer.
    fn unseen_items(&mut self, output: Vec<Item>, out: &mut Vec<StreamEvent>) -> Result<()> {
        for (i, item) in output.into_iter().enumerate() {
            if self.seen.contains(item.id(), i) {
                continue;
            }
            match item {
                Item::Message { content, .. } => {
                    for part in content {
                        match part {
                            super::response::Part::OutputText { text } if !text.is_empty() => {
                                out.push(StreamEvent::TextDelta { text })
                            }
                            super::response::Part::Refusal { refusal } => {
                                self.refused = true;
                                out.push(StreamEvent::TextDelta { text: refusal })
                            }
                            _ => {}
                        }
                    }
                }
                Item::FunctionCall {
                    call_id,
                    name,
                    arguments,
                    ..
                } => {
                    let index = self.calls.len();
                    let call = tool_call(
                        &self.provider,
                        &mut self.ids,
                        call_id,
                        name,
                        arguments.as_deref().unwrap_or_default(),
                    )?;
                    out.push(StreamEvent::ToolCallStart {
                        index,
                        id: call.id,
                        provider_id: call.provider_id,
                        name: call.name.clone(),
                        signature: None,
                    });
                    out.push(StreamEvent::ToolCallEnd {
                        index,
                        arguments: call.arguments,
                    });
                    self.calls.push(OpenCall {
                        item_id: format!("unseen-{i}"),
                        index,
                        name: call.name,
                        arguments: String::new(),
                        ended: true,
                    });
                }
                Item::Reasoning {
                    id,
                    summary,
                    content,
                    encrypted_content,
                } => {
                    let text = reasoning_text(&summary, &content);
                    self.reasoning((format!("unseen-{i}"), 0), text, out);
                    if encrypted_content.is_some() {
                        out.push(StreamEvent::ReasoningEnd {
                            signature: None,
                            redacted: None,
                            encrypted_content,
                            id,
                        });
                    }
                }
                Item::Other => {}
            }
        }
        Ok(())
    }

    fn terminal(&mut self, response: WireResponse, out: &mut Vec<StreamEvent>) -> Result<()> {
        self.life
            .start(response.id.clone(), response.model.clone(), out);
        if response.status.as_deref() == Some("failed") {
            return Err(failure(&self.provider, response.error.as_ref()));
        }
        self.unseen_items(response.output, out)?;
        // Calls whose `done` never came end with what their deltas built.
        let open: Vec<String> = self
            .calls
            .iter()
            .filter(|c| !c.ended)
            .map(|c| c.item_id.clone())
            .collect();
        for item_id in open {
            self.end_call(&item_id, None, out)?;
        }
        let (finish_reason, raw_finish_reason) = finish(
            response.status.as_deref(),
            response.incomplete_details.as_ref(),
            !self.calls.is_empty(),
            self.refused,
        );
        out.push(StreamEvent::Finish {
            finish_reason,
            raw_finish_reason,
            usage: response.usage.map(|u| u.normalise()).unwrap_or_default(),
        });
        self.life.finish();
        Ok(())
    }

    /// An `error` event: the object nested under `error`, or the fields flat on the event.
    fn error_event(&self, event: Event) -> Error {
        let flat = || {
            let mut obj = serde_json::Map::new();
            if let Some(code) = event.code.clone() {
                obj.insert("code".into(), code);
            }
            if let Some(message) = event.message.clone() {
                obj.insert("message".into(), message);
            }
            Value::Object(obj)
        };
        let err = event.error.clone().unwrap_or_else(flat);
        failure(&self.provider, Some(&err))
    }
}

impl StreamDecoder for Decoder {
    fn on_event(&mut self, name: &str, data: &str, out: &mut Vec<StreamEvent>) -> Result<()> {
        let data = data.trim();
        // No `[DONE]` in this protocol, but proxies that speak Chat Completions add one.
        if data.is_empty() || data == "[DONE]" {
            return Ok(());
        }
        let event: Event = serde_json::from_str(data).map_err(|e| {
            Error::malformed(&self.provider, format!("stream event does not parse: {e}"))
        })?;
        // The data's `type` is authoritative; the `event:` name stands in when it is missing.
        let kind = event.kind.clone().unwrap_or_else(|| name.to_owned());
        // Whatever comes first, the start event goes out before anything else (B4); the
        // `response.created` that normally comes first carries the id and model.
        if !matches!(
            kind.as_str(),
            "response.created" | "response.in_progress" | "response.queued" | "error"
        ) {
            self.life.start(None, None, out);
        }
        let response = || -> Result<WireResponse> {
            match event.response.clone() {
                None => Ok(WireResponse::default()),
                Some(v) => serde_json::from_value(v).map_err(|e| {
                    Error::malformed(
                        &self.provider,
                        format!("the response object does not parse: {e}"),
                    )
                }),
            }
        };
        match kind.as_str() {
            "response.created" | "response.in_progress" | "response.queued" => {
                let response = response()?;
                self.life.start(response.id, response.model, out);
            }
            "response.output_item.added" => {
                self.life.start(None, None, out);
                if let Some(item) = event.item {
                    self.item_added(index(&event.output_index), item, out);
                }
            }
            "response.output_item.done" => {
                if let Some(item) = event.item {
                    let id = item.get("id").and_then(Value::as_str);
                    self.seen.mark(id, index(&event.output_index));
                    self.item_done(item, out)?;
                }
            }
            "response.output_text.delta"
            | "response.output_text.done"
            | "response.refusal.delta"
            | "response.refusal.done" => {
                self.life.start(None, None, out);
                let item = event.item_id.as_ref().and_then(Value::as_str);
                self.seen.mark(item, index(&event.output_index));
                if kind.starts_with("response.refusal") {
                    self.refused = true;
                }
                let key = (
                    format!("text/{}", item.unwrap_or_default()),
                    index(&event.content_index).unwrap_or(0),
                );
                let whole = text(event.text).or(text(event.refusal));
                let text = self.part_text(key, text(event.delta), whole);
                if !text.is_empty() {
                    out.push(StreamEvent::TextDelta { text });
                }
            }
            "response.reasoning_summary_text.delta"
            | "response.reasoning_summary_text.done"
            | "response.reasoning_text.delta"
            | "response.reasoning_text.done" => {
                self.life.start(None, None, out);
                let part = index(&event.summary_index)
                    .or(index(&event.content_index))
                    .unwrap_or(0);
                let family = kind.trim_end_matches(".delta").trim_end_matches(".done");
                let piece = (
                    format!("{family}/{}", text(event.item_id).unwrap_or_default()),
                    part,
                );
                let delta = self.part_text(piece.clone(), text(event.delta), text(event.text));
                self.reasoning(piece, delta, out);
            }
            "response.function_call_arguments.delta" => {
                let item_id = text(event.item_id).unwrap_or_default();
                let fragment = text(event.delta).unwrap_or_default();
                let Some(call) = self.calls.iter_mut().find(|c| c.item_id == item_id) else {
                    return Err(Error::malformed(
                        &self.provider,
                        format!(
                            "function-call arguments for item `{item_id}`, which was never added"
                        ),
                    ));
                };
                if !fragment.is_empty() && !call.ended {
                    call.arguments.push_str(&fragment);
                    out.push(StreamEvent::ToolCallDelta {
                        index: call.index,
                        arguments: fragment,
                    });
                }
            }
            "response.function_call_arguments.done" => {
                let item_id = text(event.item_id).unwrap_or_default();
                self.end_call(&item_id, text(event.arguments), out)?;
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                let response = response()?;
                self.terminal(response, out)?;
            }
            "error" => return Err(self.error_event(event)),
            // Content parts, annotations, hosted-tool progress, audio, … : nothing to act on.
            _ => {}
        }
        Ok(())
    }

    fn is_done(&self) -> bool {
        self.life.is_done()
    }

    fn on_end(&mut self, _out: &mut Vec<StreamEvent>) -> Result<()> {
        self.life.end(
            &self.provider,
            "`response.completed`, `response.incomplete` or `response.failed`",
        )
    }
}
