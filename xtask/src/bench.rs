//! `cargo xtask bench`: the criterion benchmarks with short timings, and with `--check` the
//! budgets enforced (normalising, stream decoding against its floor, the model database).

use std::time::Duration;

use anyhow::{bail, Context, Result};

/// The budget for normalising one call (request in, response out, no network).
const BUDGET: Duration = Duration::from_millis(5);

/// Stream decoding may take at most this many times the floor (splitting SSE and parsing each
/// frame's JSON into nothing, measured in the same run).
const FLOOR_RATIO: f64 = 1.3;

/// The model database's aims (docs/models.md): a lookup and a call's cost.
const MODEL_BUDGETS: [(&str, Duration); 2] = [
    ("models/get_among_444", Duration::from_micros(50)),
    ("models/cost", Duration::from_micros(1)),
];

const PROTOCOLS: [&str; 4] = ["openai", "openai-responses", "anthropic", "gemini"];

/// Run the benchmarks quickly (about a minute on 2 cores).
#[derive(clap::Args)]
pub struct Args {
    /// Fail when a normalisation median is over the 5 ms budget, stream decoding over 1.3x
    /// its floor, a model lookup over 50 µs or a cost over 1 µs.
    #[arg(long)]
    check: bool,
}

/// The median of a criterion benchmark, from its saved estimates.
fn median(id: &str) -> Result<Duration> {
    let path = crate::root()
        .join("target/criterion")
        .join(id)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("no estimates at {}", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text)?;
    let ns = v["median"]["point_estimate"]
        .as_f64()
        .context("estimates.json has no median")?;
    Ok(Duration::from_nanos(ns as u64))
}

pub fn run(args: Args) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    crate::run(
        &cargo,
        &[
            "bench",
            "-p",
            "concord-benches",
            "--",
            "--warm-up-time",
            "1",
            "--measurement-time",
            "2",
        ],
    )?;
    let mut over = Vec::new();
    for protocol in PROTOCOLS {
        let m = median(&format!("normalize/{protocol}"))?;
        let margin = BUDGET.as_secs_f64() / m.as_secs_f64().max(1e-12);
        println!(
            "normalize/{protocol}: median {:.1} µs, {margin:.0}x under the {} ms budget",
            m.as_secs_f64() * 1e6,
            BUDGET.as_millis()
        );
        if m > BUDGET {
            over.push(format!("normalize/{protocol}"));
        }
    }
    for protocol in PROTOCOLS {
        let m = median(&format!("decode_stream/{protocol}"))?;
        let floor = median(&format!("decode_stream/{protocol}-floor"))?;
        let ratio = m.as_secs_f64() / floor.as_secs_f64().max(1e-12);
        println!(
            "decode_stream/{protocol}: median {:.0} µs, floor {:.0} µs: {ratio:.2}x the floor",
            m.as_secs_f64() * 1e6,
            floor.as_secs_f64() * 1e6
        );
        if ratio > FLOOR_RATIO {
            over.push(format!("decode_stream/{protocol}"));
        }
    }
    for (id, budget) in MODEL_BUDGETS {
        let m = median(id)?;
        println!(
            "{id}: median {:.0} ns, budget {} ns",
            m.as_secs_f64() * 1e9,
            budget.as_nanos()
        );
        if m > budget {
            over.push(id.to_owned());
        }
    }
    if args.check && !over.is_empty() {
        bail!(
            "over budget ({} ms to normalise, {FLOOR_RATIO}x the floor to decode, 50 µs a model lookup, 1 µs a cost): {}",
            BUDGET.as_millis(),
            over.join(", ")
        );
    }
    Ok(())
}
