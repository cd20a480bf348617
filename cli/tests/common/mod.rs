//! Helpers shared by the CLI's integration tests.
// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use std::process::Output;

use serde_json::Value;

/// Runs the `concord` binary with `args` and exactly the concord variables in `env` (every
/// other variable of the registry removed, so the developer's own keys never leak into a test).
pub async fn concord(args: Vec<String>, env: Vec<(String, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("concord"));
        for var in concord_registry::settings::docs::all_vars(&concord_server::sections()) {
            cmd.env_remove(&var.name);
        }
        // The model database in a folder of the tests' own, never the user's.
        let data = std::env::temp_dir().join(format!("concord-cli-data-{}", std::process::id()));
        cmd.env("CONCORD_DATA_DIR", data);
        cmd.args(args).envs(env).stdin(std::process::Stdio::null());
        cmd.output().expect("concord runs")
    })
    .await
    .unwrap()
}

/// Starts `concord mock` with `args` and reads the base URL it prints first; the caller kills
/// the process.
pub async fn start_mock(args: &[&str]) -> (std::process::Child, String) {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("concord"))
        .arg("mock")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let base = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
        line.trim().to_owned()
    })
    .await
    .unwrap();
    (child, base)
}

/// Owned `(name, value)` pairs for [`concord`].
pub fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// The one JSON object `--json` prints on stdout.
pub fn stdout_json(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().count(),
        1,
        "exactly one JSON line on stdout, got:\n{text}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&text).unwrap()
}
