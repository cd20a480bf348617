//! The adapter kit: the pieces every wire format needs and no vendor owns. concord's own formats
//! are built from them, and so can one for another vendor (implement
//! [`WireFormat`](crate::wire::WireFormat), compose it in an [`HttpProvider`](crate::HttpProvider)).

use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::event::StreamEvent;
use crate::request::{ImageSource, Message};

/// A tool call's argument text as the arguments object (contract B3): empty or `null` means
/// `{}`; anything but a JSON object is `malformed_response`, never a silent string.
pub fn parse_arguments(provider: &str, name: &str, text: &str) -> Result<Value> {
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(value) => arguments_object(provider, name, value),
        Err(e) => Err(Error::malformed(
            provider,
            format!("arguments of tool call `{name}` are not valid JSON: {e}"),
        )),
    }
}

/// A tool call's already-parsed arguments as the arguments object: `null` means `{}`, anything
/// but an object is `malformed_response`.
pub fn arguments_object(provider: &str, name: &str, value: Value) -> Result<Value> {
    match value {
        Value::Null => Ok(Value::Object(Map::new())),
        v @ Value::Object(_) => Ok(v),
        other => Err(Error::malformed(
            provider,
            format!("arguments of tool call `{name}` are not a JSON object: {other}"),
        )),
    }
}

/// Conversation turns with runs of one role merged into one turn, and empty turns dropped:
/// Anthropic and Gemini reject two turns of a role in a row, callers send them anyway.
pub fn merge_turns<R: PartialEq>(
    turns: impl IntoIterator<Item = (R, Vec<Value>)>,
) -> Vec<(R, Vec<Value>)> {
    let mut out: Vec<(R, Vec<Value>)> = Vec::new();
    for (role, parts) in turns {
        if parts.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(parts),
            _ => out.push((role, parts)),
        }
    }
    out
}

/// The system messages of a conversation as one instruction text (blank lines between them),
/// for formats that take the system prompt apart from the turns; `None` when there are none.
pub fn system_prompt(messages: &[Message]) -> Option<String> {
    let parts: Vec<&str> = messages
        .iter()
        .filter_map(|m| match m {
            Message::System { content } => Some(content.as_str()),
            _ => None,
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}

/// An image as one URL: the URL itself, or the base64 bytes as a `data:` URL.
pub fn image_url(source: &ImageSource) -> String {
    match source {
        ImageSource::Url { url } => url.clone(),
        ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
    }
}

/// The `message` of a vendor's error object, or the object itself as text.
pub fn error_message(error: &Value) -> String {
    error
        .get("message")
        .and_then(Value::as_str)
        .map_or_else(|| error.to_string(), str::to_owned)
}

/// The error for an answer whose body is not the vendor's error JSON (an HTML page from a
/// proxy, an empty body): the status decides the kind, a short excerpt is the message.
pub fn error_without_body(provider: &str, status: Option<u16>, body: &[u8]) -> Error {
    let kind = status.map_or(ErrorKind::ServerError, ErrorKind::from_status);
    let mut err = Error::new(kind, provider, crate::wire::body_snippet(body));
    err.status = status;
    err
}

/// What goes between two reasoning pieces (contract B7): one blank line.
pub const REASONING_SEPARATOR: &str = "\n\n";

/// The one rule for joining reasoning (contract B7), shared by every format's non-streamed
/// decoder and its stream decoder, so both give the same text. A *piece* is what the vendor
/// marks as a unit: a Responses summary or reasoning-text part, an Anthropic thinking block, a
/// run of Gemini thought parts (a run ends at any other part), a Chat Completions message's
/// reasoning. Pieces are joined by [`REASONING_SEPARATOR`]; empty pieces add nothing, so there is
/// never a separator at either end or two in a row.
#[derive(Debug, Default)]
pub struct ReasoningJoin {
    /// A piece is open: more text continues it.
    open: bool,
    /// Some reasoning text has gone out.
    any: bool,
}

impl ReasoningJoin {
    /// `text` continuing the current piece (or starting one), as it goes out: prefixed with the
    /// separator when it starts a piece after another. `None` for empty text.
    pub fn push(&mut self, text: &str) -> Option<String> {
        if text.is_empty() {
            return None;
        }
        let out = if !self.open && self.any {
            format!("{REASONING_SEPARATOR}{text}")
        } else {
            text.to_owned()
        };
        self.open = true;
        self.any = true;
        Some(out)
    }

    /// The current piece is over: the next text starts a new one.
    pub fn end_piece(&mut self) {
        self.open = false;
    }

    /// [`ReasoningJoin::push`] as a stream event.
    pub fn event(&mut self, text: &str) -> Option<StreamEvent> {
        self.push(text)
            .map(|text| StreamEvent::ReasoningDelta { text })
    }

    /// Joins whole pieces (a non-streamed answer's): `None` when all are empty.
    pub fn join<'a>(pieces: impl IntoIterator<Item = &'a str>) -> Option<String> {
        let mut join = ReasoningJoin::default();
        let mut all: Option<String> = None;
        for piece in pieces {
            if let Some(t) = join.push(piece) {
                all.get_or_insert_with(String::new).push_str(&t);
            }
            join.end_piece();
        }
        all
    }
}

/// The two moments every stream decoder shares: one `start` event first, and
/// `stream_interrupted` when the byte stream ends before the vendor's terminal marker.
#[derive(Debug, Default)]
pub struct StreamLife {
    started: bool,
    done: bool,
}

impl StreamLife {
    /// Emits the start event, once.
    pub fn start(&mut self, id: Option<String>, model: Option<String>, out: &mut Vec<StreamEvent>) {
        if !self.started {
            self.started = true;
            out.push(StreamEvent::Start {
                id: id.unwrap_or_default(),
                model: model.unwrap_or_default(),
            });
        }
    }

    /// Whether the start event went out.
    pub fn started(&self) -> bool {
        self.started
    }

    /// Marks the terminal marker as seen.
    pub fn finish(&mut self) {
        self.done = true;
    }

    /// Whether the terminal marker was seen.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// At the end of the bytes: fine after the terminal marker, else `stream_interrupted`
    /// naming the marker that never came.
    pub fn end(&self, provider: &str, marker: &str) -> Result<()> {
        if self.done {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::StreamInterrupted,
            provider,
            format!("the stream ended without {marker}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arguments_are_objects_or_errors() {
        assert_eq!(parse_arguments("p", "f", " ").unwrap(), json!({}));
        assert_eq!(parse_arguments("p", "f", "null").unwrap(), json!({}));
        assert_eq!(
            parse_arguments("p", "f", r#"{"a":1}"#).unwrap(),
            json!({"a": 1})
        );
        for bad in ["[1]", "\"x\"", "{\"a\":", "3"] {
            let e = parse_arguments("p", "f", bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::MalformedResponse, "{bad}");
        }
    }

    #[test]
    fn reasoning_pieces_join_with_one_blank_line_and_empty_ones_add_nothing() {
        assert_eq!(
            ReasoningJoin::join(["", "a", "", "b", ""]).as_deref(),
            Some("a\n\nb")
        );
        assert_eq!(ReasoningJoin::join(["", ""]), None);
        let mut j = ReasoningJoin::default();
        let mut streamed = String::new();
        for (text, end) in [
            ("a", false),
            ("b", true),
            ("", true),
            ("c", false),
            ("d", true),
        ] {
            streamed.push_str(&j.push(text).unwrap_or_default());
            if end {
                j.end_piece();
            }
        }
        assert_eq!(
            streamed, "ab\n\ncd",
            "deltas continue a piece; a new piece is set apart"
        );
        assert_eq!(
            ReasoningJoin::join(["ab", "cd"]).as_deref(),
            Some(streamed.as_str())
        );
    }

    #[test]
    fn runs_of_a_role_merge_and_empty_turns_vanish() {
        let merged = merge_turns([
            ("user", vec![json!(1)]),
            ("user", vec![json!(2)]),
            ("model", vec![]),
            ("user", vec![json!(3)]),
            ("model", vec![json!(4)]),
        ]);
        assert_eq!(
            merged,
            vec![
                ("user", vec![json!(1), json!(2), json!(3)]),
                ("model", vec![json!(4)])
            ]
        );
    }
}
