//! Decodes Responses API stream events (`event:`-named frames, each with a `type` and a
//! `sequence_number`, no `[DONE]`). The stream ends on `response.completed`,
//! `response.incomplete` or `response.failed` (or an `error` event); the bytes ending before one
//! of them is `stream_interrupted`.
//!
//! Events are reconciled with each other and with the final response by position —
//! `output_index`, then `content_index` / `summary_index` — and by item id only where an event
//! has no index: ids are not reliable on the wire. A proxy in front of GitHub Copilot's
//! `/responses` gives every event of one item a new `item_id`, and a router's final
//! `response.completed` can name a reasoning item by another id than the one it streamed; keyed
//! by id, both came out with their text repeated. Items the stream never showed (a server that
//! sends only the terminal event) are taken from the final response object.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use serde_json::Value;

use super::response::{failure, finish, reasoning_parts, tool_call, Item, WireResponse};
use crate::error::{Error, Result};
use crate::event::StreamEvent;
use crate::ids::IdNormalizer;
use crate::kit::{parse_arguments, ReasoningJoin, StreamLife};
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

/// Where an event's output item sits: its `output_index` when the event has one, else its id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Slot {
    Index(usize),
    Id(String),
}

impl Slot {
    fn of(output_index: Option<usize>, id: Option<&str>) -> Self {
        match output_index {
            Some(i) => Slot::Index(i),
            None => Slot::Id(id.unwrap_or_default().to_owned()),
        }
    }
}

/// What an output item is, so two items one server numbered alike stay apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Message,
    Reasoning,
    Call,
    Other,
}

impl Kind {
    fn of_type(item: &Value) -> Self {
        match item.get("type").and_then(Value::as_str) {
            Some("message") => Kind::Message,
            Some("reasoning") => Kind::Reasoning,
            Some("function_call") => Kind::Call,
            _ => Kind::Other,
        }
    }

    fn of_item(item: &Item) -> Self {
        match item {
            Item::Message { .. } => Kind::Message,
            Item::Reasoning { .. } => Kind::Reasoning,
            Item::FunctionCall { .. } => Kind::Call,
            Item::Other => Kind::Other,
        }
    }
}

/// The output items a stream has shown: by position and kind, and by every id an event gave.
/// A final item counts as shown when either matches.
#[derive(Default)]
struct Seen {
    ids: HashSet<String>,
    slots: HashSet<(Slot, Kind)>,
}

impl Seen {
    fn mark(&mut self, kind: Kind, output_index: Option<usize>, id: Option<&str>) {
        if let Some(id) = id.filter(|id| !id.is_empty()) {
            self.ids.insert(id.to_owned());
        }
        if output_index.is_some() {
            self.slots.insert((Slot::of(output_index, None), kind));
        }
    }

    fn contains(&self, kind: Kind, index: usize, id: Option<&str>) -> bool {
        self.slots.contains(&(Slot::Index(index), kind))
            || id.is_some_and(|id| !id.is_empty() && self.ids.contains(id))
    }
}

/// A function call being streamed.
struct OpenCall {
    /// Its position (or, without one, the id it was first shown with).
    slot: Slot,
    /// The id it was first shown with, for events that come without a position.
    item_id: String,
    index: usize,
    name: String,
    arguments: String,
    ended: bool,
}

/// A content part's place: text or one reasoning family, its item, its part index.
type PartKey = (&'static str, Slot, usize);

pub(super) struct Decoder {
    provider: String,
    life: StreamLife,
    ids: IdNormalizer,
    calls: Vec<OpenCall>,
    /// Output items the stream has shown.
    seen: Seen,
    /// The reasoning piece deltas last went to, and the join rule (B7).
    reasoning_piece: Option<PartKey>,
    reasoning: ReasoningJoin,
    /// The text each part has streamed so far, to reconcile with its `*.done` event.
    parts: HashMap<PartKey, String>,
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
            reasoning: ReasoningJoin::default(),
            parts: HashMap::new(),
            refused: false,
        }
    }

    /// A reasoning delta of `piece`; another piece than the last starts a new one (B7).
    fn reasoning(&mut self, piece: PartKey, text: &str, out: &mut Vec<StreamEvent>) {
        if text.is_empty() {
            return;
        }
        if self.reasoning_piece.as_ref() != Some(&piece) {
            self.reasoning.end_piece();
            self.reasoning_piece = Some(piece);
        }
        out.extend(self.reasoning.event(text));
    }

    /// Records a delta of part `key`; at its `*.done` (`whole` set), returns what the deltas
    /// left out: servers that send the text only in `.done` (or recordings with deltas dropped)
    /// still give the whole text, and a stream never repeats what it already sent.
    fn part_text(&mut self, key: PartKey, delta: Option<String>, whole: Option<String>) -> String {
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

    /// The call an event names: by position when it has one, else by the id it was shown with.
    fn call_at(&self, output_index: Option<usize>, item_id: Option<&str>) -> Option<usize> {
        let slot = Slot::of(output_index, item_id);
        self.calls.iter().position(|c| c.slot == slot).or_else(|| {
            let id = item_id.filter(|id| !id.is_empty())?;
            self.calls.iter().position(|c| c.item_id == id)
        })
    }

    fn open_call(
        &mut self,
        output_index: Option<usize>,
        item_id: &str,
        call_id: Option<String>,
        name: String,
        out: &mut Vec<StreamEvent>,
    ) -> usize {
        if let Some(at) = self.call_at(output_index, Some(item_id)) {
            return at;
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
            slot: Slot::of(output_index, Some(item_id)),
            item_id: item_id.to_owned(),
            index,
            name,
            arguments: String::new(),
            ended: false,
        });
        index
    }

    /// Ends call `at` with its complete arguments (from `.done` or the finished item when
    /// given, else what the deltas built).
    fn end_call(
        &mut self,
        at: usize,
        arguments: Option<String>,
        out: &mut Vec<StreamEvent>,
    ) -> Result<()> {
        let call = &mut self.calls[at];
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
        self.seen
            .mark(Kind::of_type(&item), output_index, Some(&item_id));
        if let Ok(Item::FunctionCall { call_id, name, .. }) = serde_json::from_value(item) {
            self.open_call(output_index, &item_id, call_id, name, out);
        }
    }

    fn item_done(
        &mut self,
        output_index: Option<usize>,
        item: Value,
        out: &mut Vec<StreamEvent>,
    ) -> Result<()> {
        let item_id = item
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        self.seen
            .mark(Kind::of_type(&item), output_index, Some(&item_id));
        match serde_json::from_value(item) {
            Ok(Item::FunctionCall {
                call_id,
                name,
                arguments,
                ..
            }) => {
                // A call whose `added` event was missed still counts.
                let at = self.open_call(output_index, &item_id, call_id, name, out);
                self.end_call(at, arguments, out)
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
            if self.seen.contains(Kind::of_item(&item), i, item.id()) {
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
                        slot: Slot::Id(format!("unseen-{i}")),
                        item_id: String::new(),
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
                    for (n, piece) in reasoning_parts(&summary, &content).enumerate() {
                        self.reasoning(("unseen", Slot::Index(i), n), piece, out);
                    }
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
        for at in 0..self.calls.len() {
            self.end_call(at, None, out)?;
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
                    self.item_done(index(&event.output_index), item, out)?;
                }
            }
            "response.output_text.delta"
            | "response.output_text.done"
            | "response.refusal.delta"
            | "response.refusal.done" => {
                self.life.start(None, None, out);
                let (at, item) = (index(&event.output_index), text(event.item_id));
                self.seen.mark(Kind::Message, at, item.as_deref());
                if kind.starts_with("response.refusal") {
                    self.refused = true;
                }
                let key = (
                    "text",
                    Slot::of(at, item.as_deref()),
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
                let (at, item) = (index(&event.output_index), text(event.item_id));
                self.seen.mark(Kind::Reasoning, at, item.as_deref());
                let (family, part) = if kind.starts_with("response.reasoning_summary") {
                    ("summary", index(&event.summary_index))
                } else {
                    ("reasoning_text", index(&event.content_index))
                };
                let piece = (family, Slot::of(at, item.as_deref()), part.unwrap_or(0));
                let delta = self.part_text(piece.clone(), text(event.delta), text(event.text));
                self.reasoning(piece, &delta, out);
            }
            "response.function_call_arguments.delta" => {
                let item_id = text(event.item_id).unwrap_or_default();
                let fragment = text(event.delta).unwrap_or_default();
                let Some(at) = self.call_at(index(&event.output_index), Some(&item_id)) else {
                    return Err(Error::malformed(
                        &self.provider,
                        format!(
                            "function-call arguments for item `{item_id}`, which was never added"
                        ),
                    ));
                };
                let call = &mut self.calls[at];
                if !fragment.is_empty() && !call.ended {
                    call.arguments.push_str(&fragment);
                    out.push(StreamEvent::ToolCallDelta {
                        index: call.index,
                        arguments: fragment,
                    });
                }
            }
            "response.function_call_arguments.done" => {
                let item_id = text(event.item_id);
                if let Some(at) = self.call_at(index(&event.output_index), item_id.as_deref()) {
                    self.end_call(at, text(event.arguments), out)?;
                }
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
