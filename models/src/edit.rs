//! A person's edits of the model database — add or change a model, deprecate or remove one — with
//! one set of rules and messages for every way in: the CLI's flags (`concord models set`), the
//! admin page's forms and the admin API's JSON. What an edit leaves out keeps its value.

use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::model::{Model, Status};
use crate::money::Price;
use crate::{Models, PriceSet, Prices};

/// One field an edit got wrong: its name (`input`, `status`; the CLI shows `--input`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field, as the admin API and the forms name it.
    pub field: &'static str,
    /// What is wrong, and what to give instead.
    pub message: String,
}

impl FieldError {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// `provider/model` split in two (a model id may have slashes of its own: `azure/eu/gpt-4o`).
pub fn split(id: &str) -> std::result::Result<(&str, &str), FieldError> {
    id.split_once('/')
        .filter(|(p, m)| !p.is_empty() && !m.is_empty())
        .ok_or_else(|| {
            FieldError::new(
                "id",
                format!("{id:?}: give a model as provider/model, like openai/gpt-4o-mini"),
            )
        })
}

/// Add a model or change one. Prices are decimal text in dollars per million tokens (at most
/// six decimals, never a float); an empty text counts as left out, as an empty form field does.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEdit {
    /// `provider/model`.
    pub id: String,
    /// Input, per million tokens.
    #[serde(default, deserialize_with = "lenient_text")]
    pub input: Option<String>,
    /// Output, per million tokens.
    #[serde(default, deserialize_with = "lenient_text")]
    pub output: Option<String>,
    /// Cached input read, per million tokens.
    #[serde(default, deserialize_with = "lenient_text")]
    pub cache_read: Option<String>,
    /// Cached input written, per million tokens.
    #[serde(default, deserialize_with = "lenient_text")]
    pub cache_write: Option<String>,
    /// Cached input written to a one-hour cache, per million tokens.
    #[serde(default, deserialize_with = "lenient_text")]
    pub cache_write_1h: Option<String>,
    /// Reasoning, per million tokens, when priced apart from output.
    #[serde(default, deserialize_with = "lenient_text")]
    pub reasoning: Option<String>,
    /// The context window, in tokens (decimal text, as a form sends it).
    #[serde(default, deserialize_with = "lenient_text")]
    pub context_window: Option<String>,
    /// The longest answer, in tokens.
    #[serde(default, deserialize_with = "lenient_text")]
    pub max_output: Option<String>,
    /// `active`, `deprecated` or `inactive`.
    #[serde(default, deserialize_with = "lenient_text")]
    pub status: Option<String>,
    /// A name for people.
    #[serde(default, deserialize_with = "lenient_text")]
    pub display_name: Option<String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn price(
    field: &'static str,
    v: &Option<String>,
) -> std::result::Result<Option<Price>, FieldError> {
    given(v)
        .map(|t| Price::per_million(t).map_err(|e| FieldError::new(field, e.to_string())))
        .transpose()
}

fn tokens(field: &'static str, v: &Option<String>) -> std::result::Result<Option<u64>, FieldError> {
    given(v)
        .map(|t| {
            t.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                FieldError::new(
                    field,
                    format!("{t:?}: a whole number of tokens, at least 1"),
                )
            })
        })
        .transpose()
}

/// Whether a provider name may get a model: a registered provider, a shipped one, or one the
/// model database already lists. Anything else is most likely a typo, refused with the names
/// that would do.
pub struct KnownProviders<'a> {
    /// Registered here, or shipped with concord.
    pub names: Box<dyn Fn(&str) -> bool + Send + Sync + 'a>,
    /// What to say a provider could be, for the message.
    pub listed: String,
}

impl ModelEdit {
    /// The model this edit makes of what `models` holds now, and whether it is new; nothing is
    /// saved. Every field is checked, the first wrong one named.
    pub fn build(
        &self,
        models: &Models,
        known: &KnownProviders<'_>,
    ) -> std::result::Result<(Model, bool), FieldError> {
        let (p, m) = split(self.id.trim())?;
        let current = models.get(p, m).map(|m| (*m).clone());
        if current.is_none() && !(known.names)(p) && !models.all().iter().any(|x| x.provider == p) {
            return Err(FieldError::new(
                "id",
                format!("unknown provider {p:?}: use {}", known.listed),
            ));
        }
        let status = given(&self.status)
            .map(|s| {
                Status::from_name(s).ok_or_else(|| {
                    FieldError::new(
                        "status",
                        format!("{s:?}: expected active, deprecated or inactive"),
                    )
                })
            })
            .transpose()?;
        let base = current.as_ref().map(|c| c.prices.base);
        let input = price("input", &self.input)?.or(base.map(|b| b.input));
        let output = price("output", &self.output)?.or(base.map(|b| b.output));
        let Some(input) = input else {
            return Err(FieldError::new(
                "input",
                format!(
                    "{} is new: give its input price (dollars per million tokens)",
                    self.id
                ),
            ));
        };
        let Some(output) = output else {
            return Err(FieldError::new(
                "output",
                format!(
                    "{} is new: give its output price (dollars per million tokens)",
                    self.id
                ),
            ));
        };
        let keep = |new: Option<Price>, old: Option<Price>| new.or(old);
        let prices = Prices {
            base: PriceSet {
                input,
                output,
                cache_read: keep(
                    price("cache_read", &self.cache_read)?,
                    base.and_then(|b| b.cache_read),
                ),
                cache_write: keep(
                    price("cache_write", &self.cache_write)?,
                    base.and_then(|b| b.cache_write),
                ),
                cache_write_1h: keep(
                    price("cache_write_1h", &self.cache_write_1h)?,
                    base.and_then(|b| b.cache_write_1h),
                ),
                reasoning: keep(
                    price("reasoning", &self.reasoning)?,
                    base.and_then(|b| b.reasoning),
                ),
            },
            above: current.as_ref().and_then(|c| c.prices.above),
        };
        let context_window = tokens("context_window", &self.context_window)?;
        let max_output = tokens("max_output", &self.max_output)?;
        let added = current.is_none();
        let old = current.unwrap_or_else(|| Model::new(p, m, prices, "manual"));
        let model = Model {
            prices,
            display_name: given(&self.display_name)
                .map(str::to_owned)
                .or(old.display_name.clone()),
            context_window: context_window.or(old.context_window),
            max_output: max_output.or(old.max_output),
            status: status.unwrap_or(old.status),
            source: "manual".into(),
            edited: true,
            ..old
        };
        if let Some(why) = model.problem() {
            return Err(FieldError::new("input", why));
        }
        Ok((model, added))
    }

    /// Builds and saves the edit; the model and whether it was new.
    pub async fn save(
        &self,
        models: &Models,
        known: &KnownProviders<'_>,
    ) -> Result<(Model, bool), EditError> {
        let (model, added) = self.build(models, known).map_err(EditError::Field)?;
        models.save(&model).await.map_err(EditError::Store)?;
        Ok((model, added))
    }
}

/// Why an edit was not made: a field that is wrong, or the database.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The edit named a wrong value.
    #[error("{0}")]
    Field(FieldError),
    /// The model database refused or failed.
    #[error("{0}")]
    Store(Error),
}

/// Marks `id` `status` (deprecated: still works, with a warning; inactive: refused), naming
/// `replaced_by`, which must be in the model database. The deprecation date is today unless the
/// model already had one.
pub async fn lifecycle(
    models: &Models,
    id: &str,
    status: Status,
    replaced_by: Option<&str>,
) -> Result<Model, EditError> {
    let (p, m) = split(id).map_err(EditError::Field)?;
    let current = models.get(p, m).ok_or_else(|| {
        EditError::Field(FieldError::new(
            "id",
            format!("{id} is not in the model database (see concord models list)"),
        ))
    })?;
    let replaced_by = replaced_by.map(str::trim).filter(|r| !r.is_empty());
    if let Some(r) = replaced_by {
        let (rp, rm) = split(r).map_err(|mut e| {
            e.field = "replaced_by";
            EditError::Field(e)
        })?;
        if models.get(rp, rm).is_none() {
            return Err(EditError::Field(FieldError::new(
                "replaced_by",
                format!("{r}: not in the model database"),
            )));
        }
        if r == id {
            return Err(EditError::Field(FieldError::new(
                "replaced_by",
                format!("{r}: a model cannot replace itself"),
            )));
        }
    }
    let model = Model {
        status,
        deprecated_on: current
            .deprecated_on
            .clone()
            .or_else(|| Some(crate::today())),
        replaced_by: replaced_by
            .map(str::to_owned)
            .or(current.replaced_by.clone()),
        edited: true,
        ..(*current).clone()
    };
    models.save(&model).await.map_err(EditError::Store)?;
    Ok(model)
}

impl From<Error> for EditError {
    fn from(e: Error) -> Self {
        EditError::Store(e)
    }
}

/// Optional text from a form (always text) or JSON (text, a number or null): `"0.15"` and
/// `0.15` both read as `"0.15"` (a JSON number is read as the shortest decimal that is it, so
/// send prices as strings to be sure of exactness).
pub fn lenient_text<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        S(String),
        N(serde_json::Number),
        B(bool),
    }
    Ok(Option::<Text>::deserialize(d)?.map(|t| match t {
        Text::S(s) => s,
        Text::N(n) => n.to_string(),
        Text::B(b) => b.to_string(),
    }))
}

fn prices_json(p: &PriceSet) -> Value {
    let m = |p: Option<Price>| p.map(Price::per_million_text);
    json!({
        "input": p.input.per_million_text(),
        "output": p.output.per_million_text(),
        "cache_read": m(p.cache_read),
        "cache_write": m(p.cache_write),
        "cache_write_1h": m(p.cache_write_1h),
        "reasoning": m(p.reasoning),
    })
}

/// A model as JSON for people and scripts (`concord models show --json`, the admin API):
/// prices as exact decimal text per million tokens, the purposes it is the default of, and
/// whether its provider is registered here.
pub fn describe(m: &Model, models: &Models, registered: bool) -> Value {
    let key = m.key();
    let defaults: Vec<String> = models
        .defaults()
        .into_iter()
        .filter(|(_, v)| *v == key)
        .map(|(k, _)| k)
        .collect();
    json!({
        "id": key,
        "provider": m.provider,
        "provider_registered": registered,
        "model": m.id,
        "display_name": m.display_name,
        "status": m.status.name(),
        "deprecated_on": m.deprecated_on,
        "replaced_by": m.replaced_by,
        "currency": "USD",
        "prices_per_million": prices_json(&m.prices.base),
        "above": m.prices.above.map(|(t, s)| json!({"threshold_tokens": t, "prices_per_million": prices_json(&s)})),
        "context_window": m.context_window,
        "max_output": m.max_output,
        "modalities": m.modalities,
        "capabilities": m.capabilities,
        "default_for": defaults,
        "limits": models.limits(&m.provider),
        "source": m.source,
        "edited": m.edited,
    })
}
