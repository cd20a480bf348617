//! A call's cost from its normalised usage (contract B2) and its model's prices (contract B8,
//! with each vendor's counting rule in its table): one function
//! for every vendor, because `Usage` already unifies how each counts — `input_tokens` holds every
//! prompt token, cache reads and writes included (OpenAI's `prompt_tokens` already do; Anthropic's
//! `input_tokens` does not, and the adapter adds its cache counts), and `output_tokens` every
//! generated token, reasoning included (OpenAI's `completion_tokens` already do; Gemini reports
//! thoughts apart, and the adapter adds them).

use concord::Usage;
use serde::{Deserialize, Serialize};

use crate::money::{Money, Price};

/// One full set of prices per token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PriceSet {
    /// Prompt tokens not read from or written to a cache.
    pub input: Price,
    /// Generated tokens (reasoning too, unless `reasoning` prices it apart).
    pub output: Price,
    /// Prompt tokens read from the vendor's cache (`None`: at the input price).
    pub cache_read: Option<Price>,
    /// Prompt tokens written to the vendor's cache (`None`: at the input price).
    pub cache_write: Option<Price>,
    /// Prompt tokens written to a one-hour cache, where the vendor prices that apart
    /// (Anthropic; `None`: at the `cache_write` price).
    #[serde(default)]
    pub cache_write_1h: Option<Price>,
    /// Reasoning tokens, when the vendor prices them apart from output.
    pub reasoning: Option<Price>,
}

/// A model's prices: a base set, and optionally another for calls whose prompt is above a
/// threshold (Gemini's and Anthropic's 200k tiers), which then prices the whole call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Prices {
    /// The prices of an ordinary call.
    pub base: PriceSet,
    /// Above `(threshold, prices)`: a prompt of more than `threshold` tokens is priced by them.
    pub above: Option<(u64, PriceSet)>,
}

/// What a call cost, and of what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cost {
    /// Prompt tokens neither read from nor written to a cache.
    pub input: Money,
    /// Prompt tokens read from the cache.
    pub cache_read: Money,
    /// Prompt tokens written to the cache (one-hour writes at their own price included).
    pub cache_write: Money,
    /// Generated tokens (without reasoning when it is priced apart).
    pub output: Money,
    /// Reasoning tokens priced apart (zero otherwise: they are in `output`).
    pub reasoning: Money,
    /// The sum.
    pub total: Money,
    /// Whether the above-threshold prices applied.
    pub above_threshold: bool,
}

/// The cost of `usage` at `prices`; `None` when the usage does not say how many tokens went in
/// and out (a stream cut before its usage came): no cost is invented.
pub fn cost(usage: &Usage, prices: &Prices) -> Option<Cost> {
    let input = usage.input_tokens?;
    let output = usage.output_tokens?;
    let (p, above_threshold) = match prices.above {
        Some((threshold, set)) if input > threshold => (set, true),
        _ => (prices.base, false),
    };
    let read = usage.cache_read_tokens.unwrap_or(0).min(input);
    let write = usage.cache_write_tokens.unwrap_or(0).min(input - read);
    let write_1h = usage.cache_write_1h_tokens.unwrap_or(0).min(write);
    let uncached = input - read - write;
    let write_price = p.cache_write.unwrap_or(p.input);
    let (plain_out, reasoning) = match p.reasoning {
        Some(_) => {
            let r = usage.reasoning_tokens.unwrap_or(0).min(output);
            (output - r, r)
        }
        None => (output, 0),
    };
    let parts = [
        p.input.times(uncached),
        p.cache_read.unwrap_or(p.input).times(read),
        write_price
            .times(write - write_1h)
            .checked_add(p.cache_write_1h.unwrap_or(write_price).times(write_1h))
            .unwrap_or(Money(i64::MAX)),
        p.output.times(plain_out),
        p.reasoning.unwrap_or(p.output).times(reasoning),
    ];
    let total = parts
        .iter()
        .try_fold(Money(0), |sum, m| sum.checked_add(*m))
        .unwrap_or(Money(i64::MAX));
    Some(Cost {
        input: parts[0],
        cache_read: parts[1],
        cache_write: parts[2],
        output: parts[3],
        reasoning: parts[4],
        total,
        above_threshold,
    })
}
