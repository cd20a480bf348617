//! Streamed function-call arguments (Gemini 3 / Vertex `streamFunctionCallArguments`): a part
//! `functionCall {name, willContinue: true}` opens a call, later parts carry
//! `functionCall.partialArgs [{jsonPath, stringValue|numberValue|boolValue|nullValue,
//! willContinue}]`, and a `functionCall` part without `willContinue` closes it. String values may
//! be split across fragments of the same path; they are concatenated.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// One `partialArgs` entry.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct PartialArg {
    #[serde(default)]
    json_path: String,
    #[serde(default)]
    string_value: Option<String>,
    #[serde(default)]
    number_value: Option<serde_json::Number>,
    #[serde(default)]
    bool_value: Option<bool>,
    /// `"NULL_VALUE"` when present.
    #[serde(default)]
    null_value: Option<Value>,
}

/// One step of a JSON path.
#[derive(Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Parses the subset of RFC 9535 paths Gemini sends: `$`, then `.name`, `['name']`, `["name"]`
/// and `[N]` steps.
fn parse_path(path: &str) -> Option<Vec<Step>> {
    let mut rest = path.trim().strip_prefix('$')?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end == 0 {
                return None;
            }
            steps.push(Step::Key(after[..end].to_owned()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let close = after.find(']')?;
            let inner = after[..close].trim();
            let quoted = inner
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
            steps.push(match quoted {
                Some(key) => Step::Key(key.to_owned()),
                None => Step::Index(inner.parse().ok()?),
            });
            rest = &after[close + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}

/// The slot at `steps` under `root`, creating objects and arrays on the way.
fn slot<'a>(root: &'a mut Value, steps: &[Step]) -> Option<&'a mut Value> {
    let mut here = root;
    for step in steps {
        here = match step {
            Step::Key(key) => {
                if !here.is_object() {
                    *here = Value::Object(Map::new());
                }
                here.as_object_mut()?
                    .entry(key.clone())
                    .or_insert(Value::Null)
            }
            Step::Index(i) => {
                if !here.is_array() {
                    *here = Value::Array(Vec::new());
                }
                let items = here.as_array_mut()?;
                // A path far past the end is not an argument anyone sends; refuse it rather than
                // allocate for it.
                if *i > items.len() + 1024 {
                    return None;
                }
                if items.len() <= *i {
                    items.resize(*i + 1, Value::Null);
                }
                &mut items[*i]
            }
        };
    }
    Some(here)
}

/// The arguments object of one streamed call, built fragment by fragment.
#[derive(Debug)]
pub(super) struct PartialArgs {
    args: Value,
}

impl Default for PartialArgs {
    fn default() -> Self {
        Self {
            args: Value::Object(Map::new()),
        }
    }
}

impl PartialArgs {
    /// Arguments that start from what the opening part already gave (`{}` when nothing).
    pub(super) fn starting_from(given: Value) -> Self {
        match given {
            v @ Value::Object(_) => Self { args: v },
            _ => Self::default(),
        }
    }

    /// Applies one fragment of the call named `name`.
    pub(super) fn apply(&mut self, provider: &str, name: &str, arg: PartialArg) -> Result<()> {
        let bad = |why: &str| {
            Error::malformed(
                provider,
                format!(
                    "streamed argument {:?} of function call `{name}` {why}",
                    arg.json_path
                ),
            )
        };
        let steps = parse_path(&arg.json_path).ok_or_else(|| bad("has an unreadable path"))?;
        if steps.is_empty() {
            return Err(bad("does not name a field"));
        }
        let target = slot(&mut self.args, &steps).ok_or_else(|| bad("is out of range"))?;
        if let Some(fragment) = arg.string_value {
            match target {
                Value::String(s) => s.push_str(&fragment),
                other => *other = Value::String(fragment),
            }
        } else if let Some(n) = arg.number_value {
            *target = Value::Number(n);
        } else if let Some(b) = arg.bool_value {
            *target = Value::Bool(b);
        } else if arg.null_value.is_some() {
            *target = Value::Null;
        }
        Ok(())
    }

    /// The complete arguments object.
    pub(super) fn finish(self) -> Value {
        self.args
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn arg(v: Value) -> PartialArg {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn paths_parse() {
        assert_eq!(
            parse_path("$.recipe.ingredients[0].name"),
            Some(vec![
                Step::Key("recipe".into()),
                Step::Key("ingredients".into()),
                Step::Index(0),
                Step::Key("name".into()),
            ])
        );
        assert_eq!(
            parse_path("$['a b'][\"c\"]"),
            Some(vec![Step::Key("a b".into()), Step::Key("c".into())])
        );
        for bad in ["a.b", "$.", "$[x]", "$[1", "$..a"] {
            assert_eq!(parse_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn fragments_build_one_object() {
        let mut p = PartialArgs::default();
        for a in [
            json!({"jsonPath": "$.location", "stringValue": "San ", "willContinue": true}),
            json!({"jsonPath": "$.location", "stringValue": "Francisco"}),
            json!({"jsonPath": "$.items[1].price", "numberValue": 0.5}),
            json!({"jsonPath": "$.items[0].ok", "boolValue": true}),
            json!({"jsonPath": "$.note", "nullValue": "NULL_VALUE"}),
        ] {
            p.apply("gemini", "f", arg(a)).unwrap();
        }
        assert_eq!(
            p.finish(),
            json!({"location": "San Francisco", "items": [{"ok": true}, {"price": 0.5}], "note": null})
        );
    }

    #[test]
    fn absurd_paths_are_errors_not_allocations() {
        let mut p = PartialArgs::default();
        let e = p
            .apply(
                "gemini",
                "f",
                arg(json!({"jsonPath": "$.a[99999999999]", "stringValue": "x"})),
            )
            .unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::MalformedResponse);
        assert!(p
            .apply(
                "gemini",
                "f",
                arg(json!({"jsonPath": "$", "stringValue": "x"}))
            )
            .is_err());
    }
}
