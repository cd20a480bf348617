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
    /// `provider/model`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.provider, self.id)
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
