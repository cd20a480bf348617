//! The JSON shapes `concord chat --json` prints: one object on success, one `{"error": …}` on
//! failure. Field names are a public interface; change them only with a changelog entry.

use concord::{Error, ErrorKind, Response, ToolCall, Usage};
use serde::Serialize;

/// The success object.
#[derive(Serialize)]
pub struct ChatJson<'a> {
    pub provider: &'a str,
    pub model: &'a str,
    pub id: &'a str,
    pub text: &'a str,
    pub reasoning: Option<&'a str>,
    pub tool_calls: Vec<ToolCallJson<'a>>,
    pub finish_reason: &'a str,
    pub raw_finish_reason: Option<&'a str>,
    pub usage: &'a Usage,
    /// What the call cost, when its model is in the model database and its usage came.
    pub cost: Option<CostJson>,
}

/// A call's cost: exact dollars as strings (never a float), its parts, and the prices per
/// million tokens it was computed at.
#[derive(Serialize)]
pub struct CostJson {
    pub currency: &'static str,
    pub total: String,
    pub input: String,
    pub cache_read: String,
    pub cache_write: String,
    pub output: String,
    pub reasoning: String,
    pub above_threshold: bool,
    pub model: String,
    pub prices_per_million: serde_json::Value,
    pub source: String,
}

impl CostJson {
    pub fn new(model: &concord_models::Model, c: &concord_models::Cost) -> Self {
        let set = match (c.above_threshold, model.prices.above) {
            (true, Some((_, above))) => above,
            _ => model.prices.base,
        };
        let m = |p: Option<concord_models::Price>| p.map(concord_models::Price::per_million_text);
        Self {
            currency: "USD",
            total: c.total.dollars(),
            input: c.input.dollars(),
            cache_read: c.cache_read.dollars(),
            cache_write: c.cache_write.dollars(),
            output: c.output.dollars(),
            reasoning: c.reasoning.dollars(),
            above_threshold: c.above_threshold,
            model: model.key(),
            prices_per_million: serde_json::json!({
                "input": set.input.per_million_text(),
                "output": set.output.per_million_text(),
                "cache_read": m(set.cache_read),
                "cache_write": m(set.cache_write),
                "cache_write_1h": m(set.cache_write_1h),
                "reasoning": m(set.reasoning),
            }),
            source: model.source.clone(),
        }
    }
}

impl<'a> ChatJson<'a> {
    pub fn new(provider: &'a str, requested_model: &'a str, r: &'a Response) -> Self {
        Self {
            provider,
            model: if r.model.is_empty() {
                requested_model
            } else {
                &r.model
            },
            id: &r.id,
            text: &r.text,
            reasoning: r.reasoning.as_deref(),
            tool_calls: r.tool_calls.iter().map(ToolCallJson::from).collect(),
            finish_reason: r.finish_reason.as_str(),
            raw_finish_reason: r.raw_finish_reason.as_deref(),
            usage: &r.usage,
            cost: None,
        }
    }
}

/// A tool call as printed: the normalised fields only (opaque replay data such as Gemini's
/// thought signature is for sending back, not for reading, and stays out of this interface).
#[derive(Serialize)]
pub struct ToolCallJson<'a> {
    pub id: &'a str,
    pub provider_id: Option<&'a str>,
    pub name: &'a str,
    pub arguments: &'a serde_json::Value,
}

impl<'a> From<&'a ToolCall> for ToolCallJson<'a> {
    fn from(c: &'a ToolCall) -> Self {
        Self {
            id: &c.id,
            provider_id: c.provider_id.as_deref(),
            name: &c.name,
            arguments: &c.arguments,
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    kind: ErrorKind,
    provider: &'a str,
    status: Option<u16>,
    message: &'a str,
    retryable: bool,
    retry_after_ms: Option<u64>,
    request_id: Option<&'a str>,
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    error: ErrorBody<'a>,
}

/// `{"error": {...}}` for `err`, fields in the documented order.
pub fn error_json(err: &Error) -> String {
    let error = ErrorBody {
        kind: err.kind,
        provider: &err.provider,
        status: err.status,
        message: &err.message,
        retryable: err.retryable,
        retry_after_ms: err.retry_after.map(|d| d.as_millis() as u64),
        request_id: err.request_id.as_deref(),
    };
    serde_json::to_string(&ErrorJson { error }).expect("serialisable")
}
