//! `cargo xtask`: the project's automation. Run `cargo xtask --help`.

mod bench;
mod cluster;
mod conformance;
mod docs;
mod fixtures;
mod gateway;
mod sdk;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "concord's project automation")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the conformance suite (the project's main job).
    Conformance(Box<conformance::Args>),
    /// Write docs/configuration.md and .env.example from the environment-variable registry.
    EnvDocs {
        /// Fail with a diff when the committed files are stale, instead of writing them.
        #[arg(long)]
        check: bool,
    },
    /// Write docs/plugin-protocol.schema.json, the JSON Schema of the plugin protocol's lines,
    /// from the Rust types.
    PluginSchema {
        /// Fail with a diff when the committed file is stale, instead of writing it.
        #[arg(long)]
        check: bool,
    },
    /// Fixture maintenance.
    Fixtures {
        #[command(subcommand)]
        command: fixtures::Cmd,
    },
    /// Run the criterion benchmarks quickly.
    Bench(bench::Args),
    /// Point the official Python SDKs (pinned in harness/sdk/requirements.txt, installed in a
    /// virtualenv under target/) at every mock vendor, and the openai SDK at `concord serve`.
    SdkCheck,
    /// Live mode against `concord mock` started as an HTTP server, as a user runs it against a
    /// server of theirs (--live --provider openai-compatible --base-url), Chat and Responses,
    /// and the official openai SDK plugin the same way; then against `concord serve
    /// --mock-providers` with its demo tenant's key.
    LiveMockCheck,
    /// `concord serve` judged as any gateway is (`conformance --gateway`): started as a
    /// process with the suite's relay as its upstream, OpenAI and Anthropic providers through
    /// both doors (docs/gateways.md).
    GatewayCheck,
    /// Several `concord serve` instances sharing a throwaway Postgres and a Redis, with the mock
    /// vendors behind them, on loopback (docs/scale-out.md); Ctrl-C stops them all.
    Cluster(cluster::Args),
    /// Everything CI runs: fmt, clippy, tests, the mock-mode suite, generated docs, fixtures,
    /// live mode against `concord mock` and `concord serve`, the official-SDK check,
    /// `concord serve` judged as a gateway, the example plugins.
    Ci,
}

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

/// Runs a command in the workspace root, failing with its name when it fails.
pub fn run(program: &str, args: &[&str]) -> Result<()> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(root())
        .status()
        .with_context(|| format!("cannot run {program}"))?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Conformance(args) => conformance::run(*args),
        Cmd::EnvDocs { check } => docs::env_docs(check),
        Cmd::PluginSchema { check } => docs::plugin_schema(check),
        Cmd::Fixtures { command } => fixtures::run(command),
        Cmd::Bench(args) => bench::run(args),
        Cmd::SdkCheck => sdk::run(),
        Cmd::LiveMockCheck => conformance::live_against_mock(),
        Cmd::GatewayCheck => {
            run(
                &std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()),
                &["build", "--quiet", "-p", "concord-cli"],
            )?;
            gateway::against_concord()
        }
        Cmd::Cluster(args) => cluster::run(args),
        Cmd::Ci => ci(),
    }
}

fn ci() -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let started = std::time::Instant::now();
    // Each step says how long it took: CI has a time budget, and this is where it goes.
    let step = |name: &str, f: &mut dyn FnMut() -> Result<()>| -> Result<()> {
        let t = std::time::Instant::now();
        f()?;
        eprintln!(
            "ci: {name}: {:.0} s (at {:.0} s)",
            t.elapsed().as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
        Ok(())
    };
    step("fmt", &mut || run(&cargo, &["fmt", "--all", "--check"]))?;
    step("clippy", &mut || {
        run(
            &cargo,
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--features",
                "concord-cli/otlp",
                "--",
                "-D",
                "warnings",
            ],
        )
    })?;
    // Every target but the benches, which clippy has checked and `cargo bench` runs: building
    // criterion's harness in test mode costs CI a minute and tests nothing. With the `otlp`
    // feature, so its export test runs here too: a build of its own with another feature set
    // recompiled half the workspace (three minutes).
    step("tests", &mut || {
        run(
            &cargo,
            &[
                "test",
                "--workspace",
                "--features",
                "concord-cli/otlp",
                "--lib",
                "--bins",
                "--tests",
                "--examples",
            ],
        )
    })?;
    // The same features as the tests above, or every crate that depends on reqwest is built
    // again (150 s).
    step("doc tests", &mut || {
        run(
            &cargo,
            &[
                "test",
                "--workspace",
                "--features",
                "concord-cli/otlp",
                "--doc",
            ],
        )
    })?;
    step("generated docs", &mut || {
        docs::env_docs(true)?;
        docs::plugin_schema(true)?;
        fixtures::run(fixtures::Cmd::Check)
    })?;
    // The whole suite once, its matrix compared with docs/conformance.md.
    step("suite", &mut || {
        conformance::run(conformance::Args::mock_all_checking_docs())
    })?;
    step("sdk-check", &mut sdk::run)?;
    step("live-mock-check", &mut conformance::live_against_mock)?;
    // concord's server as any gateway is judged: a separate process, configured once.
    step("gateway-check", &mut gateway::against_concord)?;
    // The example plugins (docs/plugins.md): concord's own provider over the protocol must pass
    // everything; the official openai SDK must fail exactly its known failures.
    step("plugins", &mut || {
        let plugins = root().join("plugins");
        conformance::run(conformance::Args::plugin(
            plugins.join("concord-openai/manifest.json"),
            "openai",
            None,
        ))?;
        conformance::run(conformance::Args::plugin(
            plugins.join("openai-sdk/manifest.json"),
            "openai",
            Some(plugins.join("openai-sdk/known-failures.txt")),
        ))?;
        conformance::run(conformance::Args::plugin(
            plugins.join("minimal/manifest.json"),
            "openai",
            Some(plugins.join("minimal/known-failures.txt")),
        ))
    })?;
    eprintln!("ci: all green");
    Ok(())
}

#[cfg(test)]
mod tests {
    /// clap's own consistency checks (unique flag names, valid `requires`), which otherwise
    /// only fire when a command is run.
    #[test]
    fn the_command_line_is_well_formed() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
