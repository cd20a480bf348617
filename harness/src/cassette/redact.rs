//! Removes secrets from an exchange before anything is written: auth headers, key-like query
//! parameters, and every occurrence of a known credential value anywhere.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Exchange;

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Headers that carry credentials.
pub const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// Query parameters that carry credentials.
pub const SECRET_PARAMS: &[&str] = &["key", "api_key", "apikey", "access_token", "token", "sig"];

/// Scrubs exchanges. It learns every credential it sees in an auth header, so a key is also
/// removed from bodies and other headers where a vendor echoes it.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor that also removes `secrets`.
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut r = Self::default();
        for s in secrets {
            r.learn(&s);
        }
        r
    }

    fn learn(&mut self, secret: &str) {
        let secret = secret.trim();
        let secret = secret.strip_prefix("Bearer ").unwrap_or(secret);
        // Very short values would redact ordinary words.
        if secret.len() >= 8 && !self.secrets.iter().any(|s| s == secret) {
            self.secrets.push(secret.to_owned());
        }
    }

    /// Learns the credentials in `headers` (call before [`Redactor::exchange`]).
    pub fn learn_headers<'a>(&mut self, headers: impl IntoIterator<Item = (&'a str, &'a str)>) {
        for (name, value) in headers {
            if SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                self.learn(value);
            }
        }
    }

    /// Learns key-like query parameter values.
    pub fn learn_query(&mut self, query: &str) {
        for (name, value) in query.split('&').filter_map(|p| p.split_once('=')) {
            if SECRET_PARAMS.contains(&name) {
                self.learn(value);
            }
        }
    }

    /// `text` with every known secret replaced.
    pub fn text(&self, text: &str) -> String {
        self.secrets.iter().fold(text.to_owned(), |t, s| {
            if t.contains(s.as_str()) {
                t.replace(s.as_str(), REDACTED)
            } else {
                t
            }
        })
    }

    fn headers(&self, headers: &mut BTreeMap<String, String>) {
        for (name, value) in headers.iter_mut() {
            *value = if SECRET_HEADERS.contains(&name.as_str()) {
                REDACTED.to_owned()
            } else {
                self.text(value)
            };
        }
    }

    fn query(&self, query: &str) -> String {
        let pairs: Vec<String> = query
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((n, _)) if SECRET_PARAMS.contains(&n) => format!("{n}={REDACTED}"),
                _ => self.text(p),
            })
            .collect();
        pairs.join("&")
    }

    fn value(&self, value: &mut Value) {
        match value {
            Value::String(s) => *s = self.text(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.value(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.value(v)),
            _ => {}
        }
    }

    /// Scrubs one exchange in place.
    pub fn exchange(&self, e: &mut Exchange) {
        self.headers(&mut e.request.headers);
        e.request.query = e.request.query.as_deref().map(|q| self.query(q));
        e.request.path = self.text(&e.request.path);
        self.value(&mut e.request.body);
        self.headers(&mut e.response.headers);
        if let Some(body) = &mut e.response.body {
            self.value(body);
        }
        for chunk in e.response.chunks.iter_mut().flatten() {
            let bytes = chunk.bytes();
            let text = String::from_utf8_lossy(&bytes);
            if self.secrets.iter().any(|s| text.contains(s.as_str())) {
                *chunk = super::Chunk::new(chunk.offset_ms, self.text(&text).as_bytes());
            }
        }
    }
}
