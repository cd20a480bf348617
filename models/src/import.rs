//! Reading model tables: LiteLLM's `model_prices_and_context_window` format (the vendored
//! snapshot, `models/data/`, and any such file) and concord's own (a JSON list of [`Model`]s).
//! Prices come in as dollars per token; each becomes exact picodollars, or is rounded half to
//! even once where it has more precision (counted in [`Parsed::rounded`]).

use serde_json::{Map, Value};

use crate::cost::{PriceSet, Prices};
use crate::error::{Error, Result};
use crate::model::{Model, Status};
use crate::money::Price;

/// The vendored snapshot (see `models/data/PROVENANCE.md`).
pub const SNAPSHOT: &str = include_str!("../data/litellm-model-prices.json");

/// Where the vendored snapshot's rows say they came from.
pub const SNAPSHOT_SOURCE: &str = "litellm 1.110.2";

/// What a file gave.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// The models, in the file's order.
    pub models: Vec<Model>,
    /// Entries skipped, with why (another provider, not a chat model).
    pub skipped: Vec<(String, String)>,
    /// Prices rounded to the picodollar per token (more precise than the money type).
    pub rounded: Vec<String>,
}

/// LiteLLM's provider names → the descriptor rows the model database files them under.
const PROVIDERS: &[(&str, &str)] = &[
    ("openai", "openai"),
    ("anthropic", "anthropic"),
    ("gemini", "gemini"),
    ("vertex_ai-language-models", "vertex"),
    ("azure", "azure"),
    ("openrouter", "openrouter"),
];

/// Reads `text` (from `origin`, for messages): a LiteLLM table (an object of models) or
/// concord's own format (a list of models). A malformed file is `invalid`, naming the line or
/// the entry and field.
pub fn parse(text: &str, origin: &str, source: &str) -> Result<Parsed> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        Error::Invalid(format!(
            "{origin}:{}:{}: not JSON: {e}",
            e.line(),
            e.column()
        ))
    })?;
    match value {
        Value::Array(items) => {
            let mut models = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                let m: Model = serde_json::from_value(item)
                    .map_err(|e| Error::Invalid(format!("{origin}: entry {i}: {e}")))?;
                if let Some(why) = m.problem() {
                    return Err(Error::Invalid(format!("{origin}: entry {i}: {why}")));
                }
                models.push(m);
            }
            Ok(Parsed {
                models,
                ..Parsed::default()
            })
        }
        Value::Object(entries) => litellm(&entries, origin, source),
        _ => Err(Error::Invalid(format!(
            "{origin}: neither a LiteLLM model table (an object) nor a list of models"
        ))),
    }
}

fn litellm(entries: &Map<String, Value>, origin: &str, source: &str) -> Result<Parsed> {
    let mut out = Parsed::default();
    for (key, entry) in entries {
        let Some(obj) = entry.as_object() else {
            continue;
        };
        let raw_provider = obj.get("litellm_provider").and_then(Value::as_str);
        let Some(provider) =
            raw_provider.and_then(|p| PROVIDERS.iter().find(|(l, _)| *l == p).map(|(_, c)| *c))
        else {
            out.skipped.push((
                key.clone(),
                format!("provider {raw_provider:?} is not one concord ships"),
            ));
            continue;
        };
        if !matches!(
            obj.get("mode").and_then(Value::as_str),
            Some("chat" | "responses")
        ) {
            out.skipped.push((key.clone(), "not a chat model".into()));
            continue;
        }
        let at = |field: &str| format!("{origin}: {key}.{field}");
        let mut price = |field: &str| -> Result<Option<Price>> {
            match obj.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => {
                    let x = v.as_f64().ok_or_else(|| {
                        Error::Invalid(format!("{}: {v} is not a number", at(field)))
                    })?;
                    let (p, rounded) = Price::per_token(x)
                        .map_err(|e| Error::Invalid(format!("{}: {e}", at(field))))?;
                    if rounded {
                        out.rounded.push(at(field));
                    }
                    Ok(Some(p))
                }
            }
        };
        let (Some(input), Some(output)) = (
            price("input_cost_per_token")?,
            price("output_cost_per_token")?,
        ) else {
            out.skipped.push((key.clone(), "no token prices".into()));
            continue;
        };
        let base = PriceSet {
            input,
            output,
            cache_read: price("cache_read_input_token_cost")?,
            cache_write: price("cache_creation_input_token_cost")?,
            // Anthropic's one-hour cache writes, priced apart from five-minute ones.
            cache_write_1h: price("cache_creation_input_token_cost_above_1hr")?,
            reasoning: price("output_cost_per_reasoning_token")?,
        };
        // A tier: `input_cost_per_token_above_200k_tokens` and its siblings.
        let mut above = None;
        for field in obj.keys() {
            let Some(k) = field
                .strip_prefix("input_cost_per_token_above_")
                .and_then(|r| r.strip_suffix("k_tokens"))
            else {
                continue;
            };
            let Ok(thousands) = k.parse::<u64>() else {
                continue;
            };
            let suffix = format!("above_{k}k_tokens");
            if let (Some(input), Some(output)) = (
                price(&format!("input_cost_per_token_{suffix}"))?,
                price(&format!("output_cost_per_token_{suffix}"))?,
            ) {
                let set = PriceSet {
                    input,
                    output,
                    cache_read: price(&format!("cache_read_input_token_cost_{suffix}"))?,
                    cache_write: price(&format!("cache_creation_input_token_cost_{suffix}"))?,
                    cache_write_1h: price(&format!(
                        "cache_creation_input_token_cost_above_1hr_{suffix}"
                    ))?,
                    reasoning: None,
                };
                // The lowest threshold is the one a prompt crosses first.
                if above.is_none_or(|(t, _)| thousands * 1000 < t) {
                    above = Some((thousands * 1000, set));
                }
            }
        }
        let id = key
            .split_once('/')
            .filter(|(prefix, _)| {
                matches!(
                    *prefix,
                    "gemini" | "azure" | "vertex_ai" | "openrouter" | "anthropic" | "openai"
                )
            })
            .map_or(key.as_str(), |(_, rest)| rest)
            .to_owned();
        let flag = |f: &str| obj.get(f).and_then(Value::as_bool).unwrap_or(false);
        let modalities = match obj.get("supported_modalities").and_then(Value::as_array) {
            Some(list) => list
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            None => {
                let mut m = vec!["text".to_owned()];
                for (f, name) in [
                    ("supports_vision", "image"),
                    ("supports_pdf_input", "pdf"),
                    ("supports_audio_input", "audio"),
                ] {
                    if flag(f) {
                        m.push(name.to_owned());
                    }
                }
                m
            }
        };
        let capabilities = [
            ("supports_function_calling", "tools"),
            ("supports_parallel_function_calling", "parallel_tools"),
            ("supports_response_schema", "json_schema"),
            ("supports_reasoning", "reasoning"),
            ("supports_prompt_caching", "caching"),
        ]
        .into_iter()
        .filter(|(f, _)| flag(f))
        .map(|(_, name)| name.to_owned())
        .collect();
        let count = |f: &str| obj.get(f).and_then(Value::as_u64);
        out.models.push(Model {
            provider: provider.to_owned(),
            id,
            display_name: None,
            prices: Prices { base, above },
            context_window: count("max_input_tokens").or(count("max_tokens")),
            max_output: count("max_output_tokens"),
            modalities,
            capabilities,
            // A deprecation date is kept; whether it has passed is decided at use.
            status: Status::Active,
            deprecated_on: obj
                .get("deprecation_date")
                .and_then(Value::as_str)
                .map(str::to_owned),
            replaced_by: obj
                .get("successor_model")
                .and_then(Value::as_str)
                .map(str::to_owned),
            source: source.to_owned(),
            edited: false,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snapshot_reads_with_its_prices_tiers_and_lifecycle() {
        let p = parse(SNAPSHOT, "snapshot", SNAPSHOT_SOURCE).unwrap();
        assert!(p.models.len() > 400, "{}", p.models.len());
        let find = |prov: &str, id: &str| {
            p.models
                .iter()
                .find(|m| m.provider == prov && m.id == id)
                .unwrap_or_else(|| panic!("{prov}/{id}"))
        };
        // Hand-read from the file: gpt-4o-mini 1.5e-07 / 6e-07 / cached 7.5e-08 per token.
        let mini = find("openai", "gpt-4o-mini");
        assert_eq!(mini.prices.base.input, Price::per_million("0.15").unwrap());
        assert_eq!(mini.prices.base.output, Price::per_million("0.6").unwrap());
        assert_eq!(
            mini.prices.base.cache_read,
            Price::per_million("0.075").ok()
        );
        assert_eq!(mini.deprecated_on.as_deref(), Some("2027-01-14"));
        assert_eq!(mini.replaced_by.as_deref(), Some("gpt-6-luna"));
        // gemini-2.5-pro: 1.25 / 10 per million, 2.5 / 15 above 200k.
        let pro = find("gemini", "gemini-2.5-pro");
        let (threshold, above) = pro.prices.above.unwrap();
        assert_eq!(threshold, 200_000);
        assert_eq!(above.input, Price::per_million("2.5").unwrap());
        assert_eq!(above.output, Price::per_million("15").unwrap());
        // claude-sonnet-4-5: cache writes at 3.75 per million.
        let sonnet = find("anthropic", "claude-sonnet-4-5");
        assert_eq!(
            sonnet.prices.base.cache_write,
            Price::per_million("3.75").ok()
        );
        // …and one-hour cache writes at 6 (LiteLLM's `cache_creation_input_token_cost_above_1hr`).
        assert_eq!(
            sonnet.prices.base.cache_write_1h,
            Price::per_million("6").ok()
        );
        assert!(
            p.rounded.is_empty(),
            "{:?}",
            &p.rounded[..p.rounded.len().min(5)]
        );
    }

    #[test]
    fn a_malformed_file_names_its_place() {
        let e = parse("{\"m\": {", "f.json", "x").unwrap_err();
        assert!(e.to_string().starts_with("f.json:1:"), "{e}");
        let e = parse(
            r#"{"gpt-x": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": -1e-6, "output_cost_per_token": 1e-6}}"#,
            "f.json",
            "x",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("f.json: gpt-x.input_cost_per_token"),
            "{e}"
        );
        assert!(e.to_string().contains("negative"), "{e}");
    }
}
