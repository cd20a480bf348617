//! A secret in a configuration is a reference, never the secret: `{ env = "VAR" }` or
//! `{ file = "path" }`. A string where a reference belongs is refused without being shown.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Where a secret comes from. Displaying it shows the reference, never the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// An environment variable.
    Env(String),
    /// A file holding the secret (surrounding whitespace ignored). A relative path resolves
    /// against the configuration file's folder ([`crate::Config::path`]).
    File(PathBuf),
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(v) => write!(f, "{{ env = {v:?} }}"),
            SecretRef::File(p) => write!(f, "{{ file = {:?} }}", p.display().to_string()),
        }
    }
}

impl SecretRef {
    /// The secret, read now; `Err` says what is missing without showing anything secret.
    pub fn resolve(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
        match self {
            SecretRef::Env(var) => env(var)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| format!("the environment variable {var} is not set")),
            SecretRef::File(path) => match std::fs::read_to_string(path) {
                Ok(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
                Ok(_) => Err(format!("the secret file {} is empty", path.display())),
                Err(e) => Err(format!(
                    "cannot read the secret file {}: {e}",
                    path.display()
                )),
            },
        }
    }
}

impl Serialize for SecretRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(1))?;
        match self {
            SecretRef::Env(v) => m.serialize_entry("env", v)?,
            SecretRef::File(p) => m.serialize_entry("file", p)?,
        }
        m.end()
    }
}

/// What a reference looks like, for errors and docs.
pub const EXPECTED: &str = "a reference: { env = \"VARIABLE\" } or { file = \"path/to/key\" }";

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SecretRef;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTED)
            }

            // Never echo a string here: it may be the key itself.
            fn visit_str<E: de::Error>(self, _: &str) -> Result<SecretRef, E> {
                Err(E::custom(
                    "a secret is written in the file; reference it instead (the value is not shown)",
                ))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretRef, A::Error> {
                let mut found: Option<SecretRef> = None;
                while let Some(key) = map.next_key::<String>()? {
                    let value: String = map.next_value()?;
                    let one = match key.as_str() {
                        "env" if !value.is_empty() => SecretRef::Env(value),
                        "file" if !value.is_empty() => SecretRef::File(value.into()),
                        _ => {
                            return Err(de::Error::custom(format!(
                            "is neither {{ env = \"…\" }} nor {{ file = \"…\" }} (found `{key}`)"
                        )))
                        }
                    };
                    if found.replace(one).is_some() {
                        return Err(de::Error::custom("names both env and file; give one"));
                    }
                }
                found.ok_or_else(|| {
                    de::Error::custom("is an empty table; give { env = \"…\" } or { file = \"…\" }")
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for SecretRef {
    fn schema_name() -> Cow<'static, str> {
        "SecretRef".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "x-type": "secret reference",
            "x-expected": EXPECTED,
            "oneOf": [
                {"properties": {"env": {"type": "string"}}, "required": ["env"], "additionalProperties": false},
                {"properties": {"file": {"type": "string"}}, "required": ["file"], "additionalProperties": false}
            ]
        })
    }
}
