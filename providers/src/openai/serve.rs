//! The server side of Chat Completions (contract A1), the mirror of `request.rs`, `response.rs`
//! and `stream.rs`: a body an OpenAI client sent, read into a [`Request`]; an answer, a stream
//! and an error written the way an OpenAI client reads them. Fields concord cannot carry to
//! every vendor are refused by name (`serve::BadRequest`), never dropped.

use serde_json::{json, Map, Value};

use crate::error::ErrorKind;
use crate::event::StreamEvent;
use crate::request::{
    ContentPart, Message, ReasoningOptions, Request, ResponseFormat, Tool, ToolCall, ToolChoice,
};
use crate::response::{FinishReason, Response, Usage};
use crate::serve::{image_source, item, object, BadRequest, Fields};

/// A Chat Completions request as a client sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// The `model` it names (`None`: the server's default).
    pub model: Option<String>,
    /// `stream: true`.
    pub stream: bool,
    /// `stream_options.include_usage: true`: a last chunk with the usage.
    pub include_usage: bool,
    /// The request itself.
    pub request: Request,
}

/// Reads a `POST /v1/chat/completions` body.
pub fn decode_request(body: &[u8]) -> Result<Incoming, BadRequest> {
    let map = object(body)?;
    let mut f = Fields::new("", &map);
    let model = f.string("model")?;
    let stream = f.bool("stream")?.unwrap_or(false);
    let include_usage = match f.object("stream_options")? {
        None => false,
        Some(o) => {
            let mut s = Fields::new("stream_options", o);
            let on = s.bool("include_usage")?.unwrap_or(false);
            s.done()?;
            on
        }
    };
    let messages = f
        .array("messages")?
        .ok_or_else(|| BadRequest::at("messages", "messages is required"))?;
    let mut request = Request {
        messages: messages
            .iter()
            .enumerate()
            .map(|(i, m)| message(&format!("messages[{i}]"), m))
            .collect::<Result<_, _>>()?,
        ..Request::default()
    };
    if let Some(tools) = f.array("tools")? {
        request.tools = tools
            .iter()
            .enumerate()
            .map(|(i, t)| tool(&format!("tools[{i}]"), t))
            .collect::<Result<_, _>>()?;
    }
    if let Some(choice) = f.get("tool_choice") {
        request.tool_choice = Some(tool_choice(choice)?);
    }
    let p = &mut request.params;
    p.temperature = f.number("temperature")?;
    p.top_p = f.number("top_p")?;
    p.max_output_tokens = match (f.count("max_completion_tokens")?, f.count("max_tokens")?) {
        (Some(n), _) | (None, Some(n)) => Some(n),
        (None, None) => None,
    };
    match f.get("stop") {
        None => {}
        Some(Value::String(s)) => p.stop = vec![s.clone()],
        Some(Value::Array(a)) => {
            p.stop = a
                .iter()
                .map(|s| {
                    s.as_str().map(str::to_owned).ok_or_else(|| {
                        BadRequest::at("stop", "stop must be a string or an array of strings")
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        Some(_) => {
            return Err(BadRequest::at(
                "stop",
                "stop must be a string or an array of strings",
            ))
        }
    }
    if let Some(n) = f.count("n")? {
        if n != 1 {
            return Err(BadRequest::at(
                "n",
                "n must be 1: this server returns one choice",
            ));
        }
    }
    if let Some(format) = f.object("response_format")? {
        request.response_format = response_format(format)?;
    }
    if let Some(effort) = f.string("reasoning_effort")? {
        request.reasoning = Some(ReasoningOptions {
            effort: Some(effort),
            budget_tokens: None,
        });
    }
    f.done()?;
    Ok(Incoming {
        model,
        stream,
        include_usage,
        request,
    })
}

/// Text of a `content` that is a string or an array of text parts.
fn text_content(path: &str, v: Option<&Value>) -> Result<String, BadRequest> {
    match v {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            let mut text = String::new();
            for (i, p) in parts.iter().enumerate() {
                let at = format!("{path}[{i}]");
                let mut f = Fields::new(at.clone(), item(&at, p)?);
                match f.required_string("type")?.as_str() {
                    "text" => text.push_str(&f.required_string("text")?),
                    other => {
                        return Err(BadRequest::at(
                            format!("{at}.type"),
                            format!("{at}: a {other:?} part is not supported here; send text"),
                        ))
                    }
                }
                f.done()?;
            }
            Ok(text)
        }
        Some(_) => Err(BadRequest::at(
            path,
            format!("{path} must be a string or an array of text parts"),
        )),
    }
}

fn message(path: &str, v: &Value) -> Result<Message, BadRequest> {
    let map = item(path, v)?;
    let mut f = Fields::new(path, map);
    let role = f.required_string("role")?;
    let m = match role.as_str() {
        // `developer` is the newer name of `system` for OpenAI's reasoning models.
        "system" | "developer" => Message::System {
            content: text_content(&f.path("content"), f.get("content"))?,
        },
        "user" => Message::User {
            content: user_content(&f.path("content"), f.get("content"))?,
        },
        "assistant" => {
            let content = text_content(&f.path("content"), f.get("content"))?;
            let tool_calls = match f.array("tool_calls")? {
                None => Vec::new(),
                Some(calls) => calls
                    .iter()
                    .enumerate()
                    .map(|(i, c)| assistant_call(&format!("{}[{i}]", f.path("tool_calls")), c))
                    .collect::<Result<_, _>>()?,
            };
            // An assistant turn's refusal text is its answer as far as history goes.
            let refusal = f.string("refusal")?;
            let reasoning = f
                .array("reasoning_details")?
                .map(|d| super::replay::blocks(d))
                .unwrap_or_default();
            Message::Assistant {
                content: if content.is_empty() {
                    refusal.unwrap_or_default()
                } else {
                    content
                },
                tool_calls,
                reasoning,
            }
        }
        "tool" => Message::Tool {
            call_id: f.required_string("tool_call_id")?,
            content: text_content(&f.path("content"), f.get("content"))?,
            is_error: false,
        },
        other => {
            return Err(BadRequest::at(
                f.path("role"),
                format!(
                "{}: role {other:?} is not supported (system, developer, user, assistant, tool)",
                f.path("role")
            ),
            ))
        }
    };
    f.done()?;
    Ok(m)
}

fn user_content(path: &str, v: Option<&Value>) -> Result<Vec<ContentPart>, BadRequest> {
    match v {
        None => Err(BadRequest::at(path, format!("{path} is required"))),
        Some(Value::String(s)) => Ok(vec![ContentPart::Text { text: s.clone() }]),
        Some(Value::Array(parts)) => parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let at = format!("{path}[{i}]");
                let mut f = Fields::new(at.clone(), item(&at, p)?);
                let part = match f.required_string("type")?.as_str() {
                    "text" => ContentPart::Text {
                        text: f.required_string("text")?,
                    },
                    "image_url" => {
                        let image = f.object("image_url")?.ok_or_else(|| {
                            BadRequest::at(format!("{at}.image_url"), "image_url is required")
                        })?;
                        let mut g = Fields::new(format!("{at}.image_url"), image);
                        let url = g.required_string("url")?;
                        // A resolution hint some vendors take and others have no place for.
                        g.ignore(&["detail"]);
                        g.done()?;
                        ContentPart::Image {
                            source: image_source(&url),
                        }
                    }
                    other => {
                        return Err(BadRequest::at(
                            format!("{at}.type"),
                            format!("{at}: a {other:?} part is not supported (text, image_url)"),
                        ))
                    }
                };
                f.done()?;
                Ok(part)
            })
            .collect(),
        Some(_) => Err(BadRequest::at(
            path,
            format!("{path} must be a string or an array of parts"),
        )),
    }
}

fn assistant_call(path: &str, v: &Value) -> Result<ToolCall, BadRequest> {
    let mut f = Fields::new(path, item(path, v)?);
    let id = f.required_string("id")?;
    if let Some(kind) = f.string("type")? {
        if kind != "function" {
            return Err(BadRequest::at(
                f.path("type"),
                format!("{}: only function calls", f.path("type")),
            ));
        }
    }
    let function = f
        .object("function")?
        .ok_or_else(|| BadRequest::at(f.path("function"), "function is required"))?;
    let mut g = Fields::new(f.path("function"), function);
    let name = g.required_string("name")?;
    let text = g.string("arguments")?.unwrap_or_default();
    g.done()?;
    let signature = f
        .object("extra_content")?
        .and_then(|e| e.get("google")?.get("thought_signature")?.as_str())
        .map(str::to_owned);
    f.done()?;
    let arguments = crate::kit::parse_arguments("request", &name, &text)
        .map_err(|e| BadRequest::at(format!("{path}.function.arguments"), e.message))?;
    Ok(ToolCall {
        provider_id: Some(id.clone()),
        id,
        name,
        arguments,
        signature,
    })
}

fn tool(path: &str, v: &Value) -> Result<Tool, BadRequest> {
    let mut f = Fields::new(path, item(path, v)?);
    let kind = f.required_string("type")?;
    if kind != "function" {
        return Err(BadRequest::at(
            f.path("type"),
            format!("{}: only function tools are supported", f.path("type")),
        ));
    }
    let function = f
        .object("function")?
        .ok_or_else(|| BadRequest::at(f.path("function"), "function is required"))?;
    let mut g = Fields::new(f.path("function"), function);
    let name = g.required_string("name")?;
    let description = g.string("description")?.unwrap_or_default();
    let parameters = g
        .get("parameters")
        .cloned()
        .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
    // Strict schema adherence is the vendor's own switch; the schema itself goes through.
    g.ignore(&["strict"]);
    g.done()?;
    f.done()?;
    Ok(Tool {
        name,
        description,
        parameters,
    })
}

fn tool_choice(v: &Value) -> Result<ToolChoice, BadRequest> {
    let bad = || {
        BadRequest::at(
            "tool_choice",
            "tool_choice must be auto, none, required or {\"type\": \"function\", \"function\": {\"name\": …}}",
        )
    };
    match v {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            _ => Err(bad()),
        },
        Value::Object(o) => o
            .get("function")
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .map(|n| ToolChoice::Named(n.to_owned()))
            .ok_or_else(bad),
        _ => Err(bad()),
    }
}

fn response_format(o: &Map<String, Value>) -> Result<Option<ResponseFormat>, BadRequest> {
    let mut f = Fields::new("response_format", o);
    let kind = f.required_string("type")?;
    let format = match kind.as_str() {
        "text" => None,
        "json_schema" => {
            let schema = f.object("json_schema")?.ok_or_else(|| {
                BadRequest::at("response_format.json_schema", "json_schema is required")
            })?;
            let mut g = Fields::new("response_format.json_schema", schema);
            let name = g.required_string("name")?;
            let schema = g.get("schema").cloned().ok_or_else(|| {
                BadRequest::at("response_format.json_schema.schema", "schema is required")
            })?;
            let strict = g.bool("strict")?.unwrap_or(false);
            g.ignore(&["description"]);
            g.done()?;
            Some(ResponseFormat {
                name,
                schema,
                strict,
            })
        }
        other => {
            return Err(BadRequest::at(
                "response_format.type",
                format!("response_format {other:?} is not supported (text, json_schema)"),
            ))
        }
    };
    f.done()?;
    Ok(format)
}

/// The `finish_reason` an OpenAI client knows for `reason`; what it has no name for ends as
/// `stop` (the raw value is the vendor's, not OpenAI's, so it is not passed on).
pub fn finish_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
        FinishReason::Stop | FinishReason::Error | FinishReason::Other => "stop",
    }
}

/// The `usage` object: B2's counts are OpenAI's, cached tokens and reasoning inside.
/// A detail the usage does not know is left out, not written as 0. Cache writes have no
/// place here: they count in `prompt_tokens`.
pub fn usage(u: &Usage) -> Value {
    let n = |v: Option<u64>| v.unwrap_or(0);
    let mut out = json!({
        "prompt_tokens": n(u.input_tokens),
        "completion_tokens": n(u.output_tokens),
        "total_tokens": n(u.total_tokens),
    });
    if let Some(cached) = u.cache_read_tokens {
        out["prompt_tokens_details"] = json!({"cached_tokens": cached});
    }
    if let Some(reasoning) = u.reasoning_tokens {
        out["completion_tokens_details"] = json!({"reasoning_tokens": reasoning});
    }
    out
}

fn calls(tool_calls: &[ToolCall]) -> Value {
    tool_calls
        .iter()
        .map(|c| {
            let mut call = json!({"id": c.id, "type": "function", "function": {
                "name": c.name, "arguments": c.arguments.to_string()}});
            if let Some(s) = &c.signature {
                call["extra_content"] = super::replay::extra_content(s);
            }
            call
        })
        .collect()
}

/// A `chat.completion` object for `response`, answered as `model` at `created` (Unix seconds).
pub fn encode_response(response: &Response, id: &str, model: &str, created: u64) -> Value {
    let mut message = Map::new();
    message.insert("role".into(), "assistant".into());
    message.insert(
        "content".into(),
        if response.text.is_empty() && !response.tool_calls.is_empty() {
            Value::Null
        } else {
            response.text.clone().into()
        },
    );
    message.insert("refusal".into(), Value::Null);
    if let Some(r) = &response.reasoning {
        // Not OpenAI's (it returns no reasoning text); the field compatible servers use.
        message.insert("reasoning_content".into(), r.clone().into());
    }
    if !response.reasoning_blocks.is_empty() {
        // What the client must send back for the vendor to continue (`super::replay`).
        message.insert(
            "reasoning_details".into(),
            super::replay::details(&response.reasoning_blocks).into(),
        );
    }
    if !response.tool_calls.is_empty() {
        message.insert("tool_calls".into(), calls(&response.tool_calls));
    }
    json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": Value::Object(message),
            "logprobs": null,
            "finish_reason": finish_reason(response.finish_reason),
        }],
        "usage": usage(&response.usage),
    })
}

/// Writes a stream's events as `chat.completion.chunk` objects, one event at a time.
#[derive(Debug)]
pub struct ChunkEncoder {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    /// Tool calls whose arguments went out as deltas (the others go whole at their end).
    streamed_arguments: Vec<usize>,
}

impl ChunkEncoder {
    /// Chunks of response `id`, answered as `model` at `created`; `include_usage` adds the
    /// usage chunk the client asked for.
    pub fn new(id: &str, model: &str, created: u64, include_usage: bool) -> Self {
        Self {
            id: id.to_owned(),
            model: model.to_owned(),
            created,
            include_usage,
            streamed_arguments: Vec::new(),
        }
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Value {
        let mut c = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        if self.include_usage {
            c["usage"] = Value::Null;
        }
        c
    }

    /// The chunks (zero or more) for `event`, each the JSON of one `data:` line.
    pub fn event(&mut self, event: &StreamEvent) -> Vec<Value> {
        match event {
            StreamEvent::Start { .. } => {
                vec![self.chunk(json!({"role": "assistant", "content": ""}), None)]
            }
            StreamEvent::TextDelta { text } => vec![self.chunk(json!({"content": text}), None)],
            StreamEvent::ReasoningDelta { text } => {
                vec![self.chunk(json!({"reasoning_content": text}), None)]
            }
            StreamEvent::ReasoningEnd {
                signature,
                redacted,
                encrypted_content,
                id,
            } => {
                // The block's text went out as `reasoning_content`; this is its replay data.
                let block = crate::response::ReasoningBlock {
                    text: String::new(),
                    signature: signature.clone(),
                    redacted: redacted.clone(),
                    encrypted_content: encrypted_content.clone(),
                    id: id.clone(),
                };
                vec![self.chunk(
                    json!({"reasoning_details": super::replay::details(&[block])}),
                    None,
                )]
            }
            StreamEvent::ToolCallStart {
                index,
                id,
                name,
                signature,
                ..
            } => {
                let mut call = json!({"index": index, "id": id, "type": "function",
                    "function": {"name": name, "arguments": ""}});
                if let Some(s) = signature {
                    call["extra_content"] = super::replay::extra_content(s);
                }
                vec![self.chunk(json!({ "tool_calls": [call] }), None)]
            }
            StreamEvent::ToolCallDelta { index, arguments } => {
                if !self.streamed_arguments.contains(index) {
                    self.streamed_arguments.push(*index);
                }
                vec![self.chunk(
                    json!({"tool_calls": [{"index": index, "function": {"arguments": arguments}}]}),
                    None,
                )]
            }
            StreamEvent::ToolCallEnd { index, arguments } => {
                if self.streamed_arguments.contains(index) {
                    Vec::new()
                } else {
                    vec![self.chunk(
                        json!({"tool_calls": [{"index": index,
                            "function": {"arguments": arguments.to_string()}}]}),
                        None,
                    )]
                }
            }
            StreamEvent::Finish {
                finish_reason: reason,
                usage: u,
                ..
            } => {
                let mut out = vec![self.chunk(json!({}), Some(finish_reason(*reason)))];
                if self.include_usage {
                    out.push(json!({
                        "id": self.id,
                        "object": "chat.completion.chunk",
                        "created": self.created,
                        "model": self.model,
                        "choices": [],
                        "usage": usage(u),
                    }));
                }
                out
            }
        }
    }
}

/// The line that ends a stream that finished.
pub const DONE: &str = "[DONE]";

/// The HTTP status and `{"error": {…}}` body an OpenAI client reads for an error of `kind`.
pub fn error(kind: ErrorKind, message: &str, param: Option<&str>) -> (u16, Value) {
    let (status, kind_name, code) = match kind {
        ErrorKind::InvalidRequest | ErrorKind::MissingRuntimeContext => {
            (400, "invalid_request_error", Value::Null)
        }
        ErrorKind::Unsupported => (400, "invalid_request_error", kind.as_str().into()),
        ErrorKind::ContextLengthExceeded => (
            400,
            "invalid_request_error",
            "context_length_exceeded".into(),
        ),
        ErrorKind::ContentFilter => (400, "invalid_request_error", "content_filter".into()),
        ErrorKind::Authentication => (401, "authentication_error", "invalid_api_key".into()),
        ErrorKind::PermissionDenied => (403, "permission_error", Value::Null),
        ErrorKind::NotFound => (404, "not_found_error", "model_not_found".into()),
        ErrorKind::RateLimited => (429, "rate_limit_error", "rate_limit_exceeded".into()),
        ErrorKind::QuotaExceeded => (429, "insufficient_quota", "insufficient_quota".into()),
        // OpenAI has no code for these: concord's kind name (`ErrorKind::from_name`).
        ErrorKind::Unavailable | ErrorKind::Overloaded => {
            (503, "overloaded_error", kind.as_str().into())
        }
        ErrorKind::Timeout => (504, "timeout_error", kind.as_str().into()),
        ErrorKind::ServerError => (502, "server_error", Value::Null),
        _ => (502, "server_error", kind.as_str().into()),
    };
    (
        status,
        json!({"error": {"message": message, "type": kind_name, "param": param, "code": code}}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_concord_cannot_carry_is_named() {
        let e = decode_request(
            br#"{"model":"m","messages":[{"role":"user","content":"hi","name":"bob"}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("messages[0].name"));
        let e = decode_request(br#"{"model":"m","messages":[],"logit_bias":{}}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("logit_bias"));
        let e = decode_request(b"{\"model\": \"m\", \"messages\": [\xff]}").unwrap_err();
        assert!(e.message.contains("UTF-8"), "{e}");
    }

    #[test]
    fn a_full_request_reads_into_the_contract() {
        let got = decode_request(
            br#"{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},
            "messages":[{"role":"developer","content":"be brief"},
              {"role":"user","content":[{"type":"text","text":"what is this"},
                {"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA","detail":"low"}}]},
              {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
                "function":{"name":"f","arguments":"{\"a\":1}"}}]},
              {"role":"tool","tool_call_id":"call_1","content":"42"}],
            "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],
            "tool_choice":{"type":"function","function":{"name":"f"}},
            "max_completion_tokens":50,"stop":"END","temperature":0.2,
            "response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"},"strict":true}},
            "reasoning_effort":"low"}"#,
        )
        .unwrap();
        assert_eq!(got.model.as_deref(), Some("gpt-4o"));
        assert!(got.stream && got.include_usage);
        let r = got.request;
        assert_eq!(r.messages.len(), 4);
        assert_eq!(r.messages[0], Message::system("be brief"));
        assert!(
            matches!(&r.messages[1], Message::User { content } if matches!(&content[1],
            ContentPart::Image { source: crate::ImageSource::Base64 { media_type, .. } } if media_type == "image/png"))
        );
        assert!(
            matches!(&r.messages[2], Message::Assistant { tool_calls, .. } if tool_calls[0].arguments == json!({"a": 1}))
        );
        assert_eq!(r.tool_choice, Some(ToolChoice::Named("f".into())));
        assert_eq!(r.params.max_output_tokens, Some(50));
        assert_eq!(r.params.stop, vec!["END".to_owned()]);
        assert!(r.response_format.unwrap().strict);
        assert_eq!(r.reasoning.unwrap().effort.as_deref(), Some("low"));
    }
}
