//! `cargo xtask sdk-check`: the official Python SDKs (versions pinned in
//! `harness/sdk/requirements.txt`) parse every non-fault scenario of every mock vendor, and the
//! `openai` SDK works against `concord serve --mock-providers` (`check_server.py`). The SDKs
//! live in a virtualenv under `target/sdk-venv`, made (once per change of the pins) with the
//! machine's `python3`.

use std::path::PathBuf;

use anyhow::{Context, Result};

fn venv() -> PathBuf {
    crate::root().join("target/sdk-venv")
}

/// Creates or refreshes the virtualenv when the pins changed since it was made.
pub fn ensure_sdks() -> Result<PathBuf> {
    let requirements = crate::root().join("harness/sdk/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)
        .with_context(|| format!("cannot read {}", requirements.display()))?;
    let venv = venv();
    let python = venv.join("bin/python3");
    let stamp = venv.join(".requirements");
    // `.ci/run` makes the virtualenv beside the build (`.ci/sdk-venv`): wait for it.
    if let Ok(done) = std::env::var("CONCORD_SDK_VENV_DONE") {
        for _ in 0..1200 {
            if std::path::Path::new(&done).exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    }
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) && python.exists() {
        return Ok(python);
    }
    let venv_arg = venv.to_string_lossy().into_owned();
    crate::run("python3", &["-m", "venv", &venv_arg])
        .context("the SDK check needs python3 with venv (Debian: python3-venv)")?;
    crate::run(
        &python.to_string_lossy(),
        &[
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            &requirements.to_string_lossy(),
        ],
    )?;
    std::fs::write(&stamp, wanted)?;
    Ok(python)
}

pub fn run() -> Result<()> {
    let python = ensure_sdks()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    crate::run(&cargo, &["build", "--quiet", "-p", "concord-cli"])?;
    let concord = crate::root().join("target/debug/concord");
    crate::run(
        &python.to_string_lossy(),
        &["harness/sdk/check_sdks.py", &concord.to_string_lossy()],
    )?;
    // The same SDKs as clients of `concord serve`, each routed to other vendors as well.
    crate::run(
        &python.to_string_lossy(),
        &["harness/sdk/check_server.py", &concord.to_string_lossy()],
    )
}
