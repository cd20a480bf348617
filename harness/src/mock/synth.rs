//! An instance of a caller's JSON Schema, for answers the mock makes up from the request: the
//! arguments of a forced call to a tool it has no fixture for, a structured output in the
//! requested shape. Deterministic for a seed (the mock seeds it from the request's bytes), so
//! a test sees the same answer twice. It fills what the schema asks for — every property
//! declared (required or not; none undeclared, so `additionalProperties: false` holds), the
//! types, `enum` / `const`, string lengths and formats, number ranges and `multipleOf`, array
//! lengths, local `$ref`s, `anyOf` / `oneOf` (the first branch) and `allOf` — and never claims
//! to understand the prompt. A `pattern` it cannot satisfy by construction is left to chance.
//!
//! By hand: the crates that generate instances of a schema do so for property tests (random,
//! not reproducible from a seed across versions) or need the whole schema compiled; this is
//! the subset vendors accept in tool parameters and structured outputs, in one small walk.

use serde_json::{json, Map, Value};

/// How deep objects and arrays nest at most (a recursive `$ref` stops here).
const DEPTH: usize = 8;

/// Words strings are made of.
const WORDS: [&str; 12] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett",
    "kilo", "lima",
];

/// A seed from bytes (FNV-1a).
pub fn seed_of(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// An instance of `schema`, the same for the same `seed`.
pub fn instance(schema: &Value, seed: u64) -> Value {
    let mut g = Gen {
        root: schema,
        state: seed | 1,
    };
    g.value(schema, 0)
}

/// `schema` with a local `$ref` into `root` followed (`#/$defs/x`, `#/definitions/x`, `#`).
fn resolve<'s>(root: &'s Value, schema: &'s Value) -> &'s Value {
    let mut s = schema;
    for _ in 0..DEPTH {
        let Some(r) = s.get("$ref").and_then(Value::as_str) else {
            return s;
        };
        let Some(pointer) = r.strip_prefix('#') else {
            return s;
        };
        match root.pointer(pointer) {
            Some(target) => s = target,
            None => return s,
        }
    }
    s
}

struct Gen<'a> {
    root: &'a Value,
    state: u64,
}

impl Gen<'_> {
    /// The next pseudo-random number (xorshift64*).
    fn next(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn value(&mut self, schema: &Value, depth: usize) -> Value {
        let s = resolve(self.root, schema);
        if let Some(c) = s.get("const") {
            return c.clone();
        }
        if let Some(options) = s.get("enum").and_then(Value::as_array) {
            if !options.is_empty() {
                let i = self.pick(options.len());
                return options[i].clone();
            }
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(first) = s.get(key).and_then(Value::as_array).and_then(|b| b.first()) {
                return self.value(first, depth + 1);
            }
        }
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            return self.value(&merged(self.root, s, all), depth + 1);
        }
        // Gemini's OpenAPI-style schemas spell types in capitals.
        match type_of(s).to_ascii_lowercase().as_str() {
            "object" => self.object(s, depth),
            "array" => self.array(s, depth),
            "string" => self.string(s),
            "integer" => self.integer(s),
            "number" => self.number(s),
            "boolean" => Value::Bool(self.next().is_multiple_of(2)),
            "null" => Value::Null,
            _ => json!({}),
        }
    }

    fn object(&mut self, s: &Value, depth: usize) -> Value {
        let mut out = Map::new();
        if depth >= DEPTH {
            return Value::Object(out);
        }
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            for (name, p) in props {
                out.insert(name.clone(), self.value(p, depth + 1));
            }
        }
        // A required name without a declared schema (allowed by JSON Schema): any value fits.
        if let Some(required) = s.get("required").and_then(Value::as_array) {
            for name in required.iter().filter_map(Value::as_str) {
                if !out.contains_key(name) {
                    out.insert(name.to_owned(), Value::String(WORDS[0].into()));
                }
            }
        }
        Value::Object(out)
    }

    fn array(&mut self, s: &Value, depth: usize) -> Value {
        let min = s.get("minItems").and_then(Value::as_u64).unwrap_or(1);
        let max = s
            .get("maxItems")
            .and_then(Value::as_u64)
            .unwrap_or(min.max(2));
        let n = if depth >= DEPTH {
            min
        } else {
            min.max(1).min(max)
        };
        let items = s.get("items").cloned().unwrap_or(json!({"type": "string"}));
        let mut out: Vec<Value> = Vec::new();
        for _ in 0..n {
            let v = self.value(&items, depth + 1);
            out.push(v);
        }
        if s.get("uniqueItems").and_then(Value::as_bool) == Some(true) {
            out.dedup();
        }
        Value::Array(out)
    }

    fn string(&mut self, s: &Value) -> Value {
        let format = s.get("format").and_then(Value::as_str).unwrap_or_default();
        let mut text = match format {
            "date-time" => "2026-01-15T09:30:00Z".to_owned(),
            "date" => "2026-01-15".to_owned(),
            "time" => "09:30:00Z".to_owned(),
            "email" => format!("{}@example.com", WORDS[self.pick(WORDS.len())]),
            "uri" | "url" => format!("https://example.com/{}", WORDS[self.pick(WORDS.len())]),
            "uuid" => format!(
                "{:08x}-0000-4000-8000-{:012x}",
                self.next() as u32,
                self.next() >> 16
            ),
            "ipv4" => "192.0.2.1".to_owned(),
            _ => WORDS[self.pick(WORDS.len())].to_owned(),
        };
        let min = s.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
        let max = s
            .get("maxLength")
            .and_then(Value::as_u64)
            .map(|m| m as usize);
        while text.chars().count() < min {
            text.push('x');
        }
        if let Some(max) = max {
            text = text.chars().take(max).collect();
        }
        Value::String(text)
    }

    fn integer(&mut self, s: &Value) -> Value {
        let (lo, hi) = bounds(s, 0.0, 100.0, true);
        let lo = lo.ceil() as i64;
        let hi = (hi.floor() as i64).max(lo);
        let step = s
            .get("multipleOf")
            .and_then(Value::as_i64)
            .filter(|m| *m > 0);
        let span = (hi - lo) as u64 + 1;
        let mut n = lo + (self.next() % span) as i64;
        if let Some(m) = step {
            // The first multiple at or above `n`, else at or below it.
            let up = n + (m - n.rem_euclid(m)) % m;
            n = if up <= hi { up } else { n - n.rem_euclid(m) };
        }
        json!(n)
    }

    fn number(&mut self, s: &Value) -> Value {
        if s.get("multipleOf").is_some() {
            return self.integer(s);
        }
        let (lo, hi) = bounds(s, 0.0, 100.0, false);
        let at = (self.next() % 1000) as f64 / 1000.0;
        let x = lo + (hi - lo) * at;
        // Two decimals are enough and stay inside the bounds.
        let x = (x * 100.0).floor() / 100.0;
        json!(x.clamp(lo, hi))
    }
}

/// The type a schema asks for: `type` (the first that is not null, of a list), else what its
/// keywords imply.
fn type_of(s: &Value) -> &str {
    match s.get("type") {
        Some(Value::String(t)) => t,
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .or_else(|| ts.first().and_then(Value::as_str))
            .unwrap_or("null"),
        _ if s.get("properties").is_some() => "object",
        _ if s.get("items").is_some() => "array",
        _ => "",
    }
}

/// `[lo, hi]` from `minimum` / `maximum` and their exclusive forms, around `[lo, hi]` by
/// default; integers step over an exclusive bound by one, numbers by a hundredth.
fn bounds(s: &Value, lo: f64, hi: f64, integer: bool) -> (f64, f64) {
    let nudge = if integer { 1.0 } else { 0.01 };
    let min = s.get("minimum").and_then(Value::as_f64).or_else(|| {
        s.get("exclusiveMinimum")
            .and_then(Value::as_f64)
            .map(|m| m + nudge)
    });
    let max = s.get("maximum").and_then(Value::as_f64).or_else(|| {
        s.get("exclusiveMaximum")
            .and_then(Value::as_f64)
            .map(|m| m - nudge)
    });
    match (min, max) {
        (Some(a), Some(b)) => (a, b.max(a)),
        (Some(a), None) => (a, a + (hi - lo)),
        (None, Some(b)) => (b - (hi - lo), b),
        (None, None) => (lo, hi),
    }
}

/// `allOf`'s object schemas as one (their properties and required names together).
fn merged(root: &Value, s: &Value, all: &[Value]) -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    let mut kind = None;
    for part in std::iter::once(s).chain(all.iter()) {
        let part = resolve(root, part);
        if let Some(p) = part.get("properties").and_then(Value::as_object) {
            props.extend(p.clone());
        }
        if let Some(r) = part.get("required").and_then(Value::as_array) {
            required.extend(r.iter().cloned());
        }
        if kind.is_none() {
            kind = part.get("type").cloned();
        }
    }
    if props.is_empty() {
        // Not objects: the first part with a type stands for them.
        return all.first().cloned().unwrap_or(json!({}));
    }
    json!({"type": kind.unwrap_or(json!("object")), "properties": props, "required": required})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tools_parameters_are_filled_and_nothing_else() {
        let schema = json!({
            "type": "object",
            "properties": {
                "location": {"type": "string", "minLength": 3},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
                "when": {"type": "string", "format": "date"},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
                "where": {"$ref": "#/$defs/place"}
            },
            "required": ["location", "unit"],
            "additionalProperties": false,
            "$defs": {"place": {"type": "object", "properties": {"lat": {"type": "number", "minimum": -90, "maximum": 90}}, "required": ["lat"]}}
        });
        let v = instance(&schema, 7);
        let o = v.as_object().unwrap();
        assert_eq!(o.len(), 6, "{v}");
        assert!(o["location"].as_str().unwrap().len() >= 3);
        assert!(["celsius", "fahrenheit"].contains(&o["unit"].as_str().unwrap()));
        assert!((1..=7).contains(&o["days"].as_i64().unwrap()));
        assert_eq!(o["tags"].as_array().unwrap().len(), 2);
        assert!(o["where"]["lat"].as_f64().unwrap().abs() <= 90.0);
        assert_eq!(instance(&schema, 7), v, "the same seed, the same instance");
    }

    #[test]
    fn no_parameters_is_an_empty_object() {
        assert_eq!(instance(&json!({"type": "object"}), 1), json!({}));
        assert_eq!(instance(&json!({}), 1), json!({}));
    }
}
