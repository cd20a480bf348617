//! The server side of the wire formats, shared by every door (`openai::serve`,
//! `anthropic::serve`): a client's request body read into a [`Request`](crate::Request), with
//! anything concord cannot carry refused by name instead of dropped.

use serde_json::{Map, Value};

use crate::request::ImageSource;

/// A client's request that cannot be served as sent: what is wrong, and where (`messages[2].name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRequest {
    /// What is wrong, for the client.
    pub message: String,
    /// The JSON path of the offending field, when there is one.
    pub param: Option<String>,
}

impl BadRequest {
    /// `message` about the field at `param`.
    pub fn at(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            param: Some(param.into()),
        }
    }

    /// `message` about the body as a whole.
    pub fn body(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            param: None,
        }
    }
}

impl std::fmt::Display for BadRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Reads a body as a JSON object.
pub(crate) fn object(body: &[u8]) -> Result<Map<String, Value>, BadRequest> {
    let text = std::str::from_utf8(body)
        .map_err(|e| BadRequest::body(format!("the body is not UTF-8: {e}")))?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(BadRequest::body("the body must be a JSON object")),
        Err(e) => Err(BadRequest::body(format!(
            "the body is not valid JSON (line {}, column {}): {e}",
            e.line(),
            e.column()
        ))),
    }
}

/// A field walker: reads the fields a format knows and refuses any other by its path, so a
/// field concord cannot carry is a 400 naming it, never a silent drop.
pub(crate) struct Fields<'a> {
    path: String,
    map: &'a Map<String, Value>,
    seen: Vec<&'a str>,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(path: impl Into<String>, map: &'a Map<String, Value>) -> Self {
        Self {
            path: path.into(),
            map,
            seen: Vec::new(),
        }
    }

    /// The path of `key` in this object.
    pub(crate) fn path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The value of `key`, `None` when absent or `null`.
    pub(crate) fn get(&mut self, key: &'a str) -> Option<&'a Value> {
        self.seen.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// Marks `keys` as read without reading them (fields that change nothing).
    pub(crate) fn ignore(&mut self, keys: &[&'a str]) {
        self.seen.extend_from_slice(keys);
    }

    pub(crate) fn string(&mut self, key: &'a str) -> Result<Option<String>, BadRequest> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(BadRequest::at(
                self.path(key),
                format!("{} must be a string", self.path(key)),
            )),
        }
    }

    pub(crate) fn required_string(&mut self, key: &'a str) -> Result<String, BadRequest> {
        self.string(key)?.ok_or_else(|| {
            BadRequest::at(self.path(key), format!("{} is required", self.path(key)))
        })
    }

    pub(crate) fn bool(&mut self, key: &'a str) -> Result<Option<bool>, BadRequest> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(BadRequest::at(
                self.path(key),
                format!("{} must be true or false", self.path(key)),
            )),
        }
    }

    pub(crate) fn number(&mut self, key: &'a str) -> Result<Option<f64>, BadRequest> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(_) => Err(BadRequest::at(
                self.path(key),
                format!("{} must be a number", self.path(key)),
            )),
        }
    }

    pub(crate) fn count(&mut self, key: &'a str) -> Result<Option<u32>, BadRequest> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| {
                    BadRequest::at(
                        self.path(key),
                        format!("{} must be a whole number of at most 2^32", self.path(key)),
                    )
                }),
        }
    }

    pub(crate) fn array(&mut self, key: &'a str) -> Result<Option<&'a Vec<Value>>, BadRequest> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(_) => Err(BadRequest::at(
                self.path(key),
                format!("{} must be an array", self.path(key)),
            )),
        }
    }

    pub(crate) fn object(
        &mut self,
        key: &'a str,
    ) -> Result<Option<&'a Map<String, Value>>, BadRequest> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(o)) => Ok(Some(o)),
            Some(_) => Err(BadRequest::at(
                self.path(key),
                format!("{} must be an object", self.path(key)),
            )),
        }
    }

    /// Fails on the first field not read, naming it. A `null` field is one not set (SDKs
    /// write every optional field of a block they parsed, `null` when absent): nothing to carry.
    pub(crate) fn done(self) -> Result<(), BadRequest> {
        let unread = self
            .map
            .iter()
            .find(|(k, v)| !v.is_null() && !self.seen.contains(&k.as_str()));
        match unread.map(|(k, _)| k) {
            None => Ok(()),
            Some(k) => Err(BadRequest::at(
                self.path(k),
                format!(
                    "{} is not supported by this server (concord cannot carry it to every vendor; leave it out)",
                    self.path(k)
                ),
            )),
        }
    }
}

/// An item of an array as an object, or a 400 naming it.
pub(crate) fn item<'a>(path: &str, v: &'a Value) -> Result<&'a Map<String, Value>, BadRequest> {
    v.as_object()
        .ok_or_else(|| BadRequest::at(path, format!("{path} must be an object")))
}

/// An image URL as concord's source: `data:` URLs become inline bytes.
pub(crate) fn image_source(url: &str) -> ImageSource {
    if let Some(rest) = url.strip_prefix("data:") {
        if let Some((media_type, data)) = rest.split_once(";base64,") {
            return ImageSource::Base64 {
                media_type: media_type.to_owned(),
                data: data.to_owned(),
            };
        }
    }
    ImageSource::Url {
        url: url.to_owned(),
    }
}
