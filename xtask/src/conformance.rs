//! `cargo xtask conformance`: run the suite, print the matrix, write reports.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use concord::plugin::{Manifest, PluginProvider};
use concord_conformance::{Mode, Outcome, Protocol, Selection, Subject, Suite};

/// Run the conformance suite against concord's providers.
///
/// By default against mock vendors (no keys, loopback only). With --live, against the real
/// vendors, keys from OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY (a provider without its
/// key is skipped, not failed).
#[derive(clap::Args)]
pub struct Args {
    /// Mock vendors from the harness (the default).
    #[arg(long, group = "mode")]
    mock_providers: bool,
    /// The real vendors.
    #[arg(long, group = "mode")]
    live: bool,
    /// The real vendors, writing redacted cassettes to fixtures/cassettes/.
    #[arg(long, group = "mode")]
    record: bool,
    /// Answer from the cassettes in fixtures/cassettes/.
    #[arg(long, group = "mode")]
    replay: bool,
    /// Only these providers (repeatable): openai, anthropic, gemini.
    #[arg(long = "provider")]
    providers: Vec<String>,
    /// Only checks matching these patterns (repeatable): 'TOOL-*', CTR-001.
    #[arg(long = "check")]
    checks: Vec<String>,
    /// Only these families (repeatable): CTR, TOOL, RSN, JSON, MM, USE, ERR, SL, SEC.
    #[arg(long = "family")]
    families: Vec<String>,
    /// Where --record writes and --replay reads cassettes.
    #[arg(long, default_value = "fixtures/cassettes")]
    cassette_dir: PathBuf,
    /// Write report.json, junit.xml and report.md here.
    #[arg(long)]
    report_dir: Option<PathBuf>,
    /// Regenerate docs/conformance.md from this run (mock mode, full selection).
    #[arg(long)]
    write_docs: bool,
    /// Run the suite against a plugin (a provider in any language, docs/plugins.md) instead of
    /// concord's providers: the path of its manifest.json.
    #[arg(long, requires = "protocol")]
    plugin: Option<PathBuf>,
    /// The wire protocol the plugin calls (openai, openai-responses, anthropic, gemini): the
    /// mock vendor it is pointed at.
    #[arg(long, requires = "plugin")]
    protocol: Option<String>,
    /// A file listing the checks the plugin is known to fail, one `ID: reason` per line: the
    /// run fails on any other failure, and on a listed check that passes (so the list stays
    /// true).
    #[arg(long, requires = "plugin")]
    known_failures: Option<PathBuf>,
}

impl Args {
    /// The full mock-mode run, as CI does it.
    pub fn mock_all() -> Self {
        Self {
            mock_providers: true,
            live: false,
            record: false,
            replay: false,
            providers: vec![],
            checks: vec![],
            families: vec![],
            cassette_dir: "fixtures/cassettes".into(),
            report_dir: None,
            write_docs: false,
            plugin: None,
            protocol: None,
            known_failures: None,
        }
    }
}

impl Args {
    /// The full mock-mode run against a plugin.
    pub fn plugin(manifest: PathBuf, protocol: &str, known_failures: Option<PathBuf>) -> Self {
        Self {
            plugin: Some(manifest),
            protocol: Some(protocol.into()),
            known_failures,
            ..Self::mock_all()
        }
    }
}

pub fn run(args: Args) -> Result<()> {
    let cassettes = crate::root().join(&args.cassette_dir);
    let mode = if args.live {
        Mode::Live
    } else if args.record {
        Mode::Record(cassettes)
    } else if args.replay {
        Mode::Replay(cassettes)
    } else {
        Mode::Mock
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let subjects = match (&args.plugin, &args.protocol) {
        (Some(manifest), Some(protocol)) => {
            let protocol = Protocol::from_name(protocol).with_context(|| {
                format!("unknown protocol `{protocol}`; known: openai, openai-responses, anthropic, gemini")
            })?;
            let manifest = Manifest::load(manifest).map_err(|e| anyhow::anyhow!(e.message))?;
            let plugin = runtime
                .block_on(PluginProvider::start(manifest))
                .map_err(|e| anyhow::anyhow!("the plugin did not start: {}", e.message))?;
            let name = plugin.handshake().name.clone();
            println!(
                "plugin `{name}` {} (protocol {}), against the {} mock vendor",
                plugin.handshake().version,
                plugin.handshake().protocol,
                protocol.name()
            );
            vec![Subject::new(name, protocol, plugin)]
        }
        _ => Subject::all_builtin(),
    };
    let known: Vec<String> = subjects.iter().map(|s| s.name.clone()).collect();
    if let Some(unknown) = args.providers.iter().find(|p| !known.contains(p)) {
        bail!("unknown provider `{unknown}`; known: {}", known.join(", "));
    }
    let selection = Selection {
        providers: args.providers.clone(),
        checks: args.checks.clone(),
        families: args.families.clone(),
    };
    let full = args.providers.is_empty() && args.checks.is_empty() && args.families.is_empty();
    if args.write_docs && !(full && mode == Mode::Mock && args.plugin.is_none()) {
        bail!(
            "--write-docs needs a full mock-mode run (no --provider/--check/--family, no --live)"
        );
    }
    let suite = Suite::new()
        .subjects(subjects)
        .regressions_file(crate::root().join("conformance/proptest-regressions/sl_003.txt"))
        .select(selection)
        .mode(mode.clone());
    let planned = suite.plan().len();
    if planned == 0 {
        bail!("the selection matches no check; see docs/conformance.md for the ids");
    }
    let bar = indicatif::ProgressBar::new(planned as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            .expect("valid template"),
    );
    let started = Instant::now();
    let report = runtime.block_on(suite.run_with(|r| {
        bar.inc(1);
        bar.set_message(format!(
            "{} [{}] {}",
            r.check,
            r.provider,
            r.outcome.label()
        ));
    }));
    bar.finish_and_clear();
    println!(
        "conformance ({mode:?} mode, {planned} runs in {:.1} s)\n",
        started.elapsed().as_secs_f64()
    );
    print!("{}", report.matrix());
    let notes = report.failures_text();
    if !notes.is_empty() {
        println!("\n{notes}");
    }
    if let Some(dir) = &args.report_dir {
        report.write_dir(dir)?;
        println!("reports written to {}", dir.display());
    }
    if args.write_docs {
        crate::docs::write_or_check(
            "docs/conformance.md",
            &concord_conformance::report::conformance_doc(&report),
            false,
            "",
        )?;
    }
    let failed: Vec<&str> = report
        .results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Fail(_)))
        .map(|r| r.check)
        .collect();
    if let Some(path) = &args.known_failures {
        return compare_known(path, &failed);
    }
    if !failed.is_empty() {
        bail!("{} check(s) failed", failed.len());
    }
    Ok(())
}

/// Fails unless exactly the checks listed in `path` failed.
fn compare_known(path: &std::path::Path, failed: &[&str]) -> Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the known failures {}", path.display()))?;
    let listed: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split(':').next().unwrap_or(l).trim())
        .collect();
    let unexpected: Vec<&&str> = failed.iter().filter(|c| !listed.contains(c)).collect();
    let fixed: Vec<&&str> = listed.iter().filter(|c| !failed.contains(c)).collect();
    println!(
        "\nknown failures ({}): {} listed, {} failed",
        path.display(),
        listed.len(),
        failed.len()
    );
    if !unexpected.is_empty() || !fixed.is_empty() {
        bail!(
            "failures not listed in {}: {unexpected:?}; listed but passing now (remove them): {fixed:?}",
            path.display()
        );
    }
    Ok(())
}
