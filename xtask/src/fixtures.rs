//! `cargo xtask fixtures check`: every scenario, error table and cassette parses against its
//! schema, and the secret scanner finds nothing.

use anyhow::{bail, Result};
use clap::Subcommand;
use concord_harness::cassette::{scan, Cassette};
use concord_harness::{Fixtures, Protocol};

#[derive(Subcommand)]
pub enum Cmd {
    /// Validate every fixture and run the secret scanner.
    Check,
}

pub fn run(cmd: Cmd) -> Result<()> {
    let Cmd::Check = cmd;
    let fixtures = Fixtures::default();
    let mut problems = Vec::new();
    let mut scenarios = 0;
    for protocol in Protocol::ALL {
        match fixtures.list(protocol) {
            Ok(names) => {
                for name in names.iter().filter(|n| !n.starts_with("error_")) {
                    scenarios += 1;
                    match fixtures.scenario(protocol, name) {
                        Ok(sc) if sc.file.generate.is_none() && sc.file.stream.is_none() => {
                            problems.push(format!(
                                "{protocol}/{name}: neither a generate nor a stream answer"
                            ))
                        }
                        Ok(sc) if sc.file.provenance.trim().is_empty() => {
                            problems.push(format!("{protocol}/{name}: no provenance"))
                        }
                        Ok(_) => {}
                        Err(e) => problems.push(e.to_string()),
                    }
                }
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    let mut cassettes = 0;
    let dir = fixtures.root().join("cassettes");
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                cassettes += 1;
                if let Err(e) = Cassette::load(&path) {
                    problems.push(e.to_string());
                }
            }
        }
    }
    let findings = scan::scan_dir(fixtures.root())?;
    problems.extend(findings.iter().map(|f| format!("secret: {f}")));
    if !problems.is_empty() {
        bail!("fixtures check failed:\n{}", problems.join("\n"));
    }
    eprintln!(
        "fixtures check: {scenarios} scenarios, {cassettes} cassettes valid; no secrets found"
    );
    Ok(())
}
