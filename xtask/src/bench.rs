//! `cargo xtask bench`: the criterion benchmarks with short timings, and with `--check` the
//! normalisation budget enforced.

use std::time::Duration;

use anyhow::{bail, Context, Result};

/// The seed requirement: normalising one call may take at most this long.
const BUDGET: Duration = Duration::from_millis(5);

/// Run the benchmarks quickly (about a minute on 2 cores).
#[derive(clap::Args)]
pub struct Args {
    /// Fail when a normalisation median is over the 5 ms budget.
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
    for protocol in ["openai", "anthropic", "gemini"] {
        let m = median(&format!("normalize/{protocol}"))?;
        let margin = BUDGET.as_secs_f64() / m.as_secs_f64().max(1e-12);
        println!(
            "normalize/{protocol}: median {:.1} µs, {margin:.0}x under the {} ms budget",
            m.as_secs_f64() * 1e6,
            BUDGET.as_millis()
        );
        if m > BUDGET {
            over.push(protocol);
        }
    }
    if args.check && !over.is_empty() {
        bail!(
            "normalisation over the {} ms budget for {}",
            BUDGET.as_millis(),
            over.join(", ")
        );
    }
    Ok(())
}
