//! What the model database holds: models with their prices, limits and lifecycle, each provider's
//! limits, and a record of each call with the prices it was charged at.

use concord::Usage;
use serde::{Deserialize, Serialize};

use crate::cost::Prices;
use crate::money::Money;

/// Whether a model may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// In use.
    Active,
    /// Still works, but every use warns and names its replacement.
    Deprecated,
    /// Refused before anything is sent (a model removed from the model database stays as this).
    Inactive,
}

impl Status {
    /// `active`, `deprecated`, `inactive`.
    pub fn name(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Deprecated => "deprecated",
            Status::Inactive => "inactive",
        }
    }

    /// The status named `name`.
    pub fn from_name(name: &str) -> Option<Status> {
        [Status::Active, Status::Deprecated, Status::Inactive]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// One model of one provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The provider, by the name it is registered under (a descriptor row's name for the
    /// shipped snapshot: `openai`, `anthropic`, `gemini`, …).
    pub provider: String,
    /// The vendor's model id (`gpt-4o-mini`).
    pub id: String,
    /// A name for people, if different.
    #[serde(default)]
    pub display_name: Option<String>,
    /// What it costs.
    pub prices: Prices,
    /// The most tokens of a prompt and answer together.
    #[serde(default)]
    pub context_window: Option<u64>,
    /// The most tokens of an answer.
    #[serde(default)]
    pub max_output: Option<u64>,
    /// What it takes in (`text`, `image`, `audio`, `pdf`).
    #[serde(default)]
    pub modalities: Vec<String>,
    /// What it can do (`tools`, `json_schema`, `reasoning`, `caching`).
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Whether it may be used.
    pub status: Status,
    /// When it was (or will be) deprecated, `YYYY-MM-DD`.
    #[serde(default)]
    pub deprecated_on: Option<String>,
    /// What to use instead (`provider/model` or a model of the same provider).
    #[serde(default)]
    pub replaced_by: Option<String>,
    /// Where the row came from (`litellm 1.110.2`, a file, `manual`).
    pub source: String,
    /// Whether a person changed it (an import keeps it unless told to overwrite).
    #[serde(default)]
    pub edited: bool,
}

impl Model {
    /// An active text model at `prices`, edited by hand (`source` says by what), with nothing
    /// else known about it.
    pub fn new(
        provider: impl Into<String>,
        id: impl Into<String>,
        prices: Prices,
        source: impl Into<String>,
    ) -> Self {
        Self {
            provider: provider.into(),
            id: id.into(),
            display_name: None,
            prices,
            context_window: None,
            max_output: None,
            modalities: vec!["text".into()],
            capabilities: Vec::new(),
            status: Status::Active,
            deprecated_on: None,
            replaced_by: None,
            source: source.into(),
            edited: true,
        }
    }

    /// `provider/model`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.provider, self.id)
    }

    /// What makes this row unusable, if anything: an empty name, a negative price, a tier
    /// threshold of zero. Every way in (an import file of concord's own format, an edit)
    /// checks it, since a `Model` can be built or deserialised with any numbers.
    pub fn problem(&self) -> Option<String> {
        if self.provider.is_empty() || self.id.is_empty() {
            return Some("a model needs a provider and an id".into());
        }
        let sets = std::iter::once(("", &self.prices.base))
            .chain(self.prices.above.as_ref().map(|(_, s)| ("above.", s)));
        for (tier, set) in sets {
            let named = [
                ("input", Some(set.input)),
                ("output", Some(set.output)),
                ("cache_read", set.cache_read),
                ("cache_write", set.cache_write),
                ("cache_write_1h", set.cache_write_1h),
                ("reasoning", set.reasoning),
            ];
            for (name, price) in named {
                if price.is_some_and(|p| p.0 < 0) {
                    return Some(format!(
                        "{}: prices.{tier}{name} is negative; prices are zero or more",
                        self.key()
                    ));
                }
            }
        }
        if matches!(self.prices.above, Some((0, _))) {
            return Some(format!(
                "{}: a price tier above 0 tokens is not a tier; use the base prices",
                self.key()
            ));
        }
        None
    }
}

/// A provider's limits, as the model database holds them; they reach the running dispatcher.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderLimits {
    /// The provider's registered name.
    pub provider: String,
    /// Requests per minute.
    pub requests_per_minute: Option<u32>,
    /// Tokens per minute.
    pub tokens_per_minute: Option<u32>,
    /// Calls in flight at once.
    pub max_parallel: Option<u32>,
}

/// One call, as recorded: what it used, what it cost and the prices it was charged at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// A unique id.
    pub id: String,
    /// When it started, Unix milliseconds.
    pub at_ms: i64,
    /// Who it ran for.
    pub tenant: Option<String>,
    /// The provider.
    pub provider: String,
    /// The model.
    pub model: String,
    /// Whether it was streamed.
    pub stream: bool,
    /// `ok`, or the error kind it ended with (`cancelled` for one the caller dropped).
    pub outcome: String,
    /// How long it took, in milliseconds.
    pub latency_ms: i64,
    /// What the vendor reported (nothing, for a call that ended before its usage).
    pub usage: Usage,
    /// What it cost; `None` when the usage never came or the model has no prices.
    pub cost: Option<Money>,
    /// The prices it was charged at, kept so a later price edit changes nothing here.
    pub prices: Option<Prices>,
}
