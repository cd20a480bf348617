//! `cargo xtask ci`'s gateway run: `concord serve` as a separate process, configured once with
//! the suite's relay as its upstream (an OpenAI route and an Anthropic route), judged by
//! `cargo xtask conformance --gateway` through both doors, as any gateway would be
//! (docs/gateways.md).

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};

/// A free loopback port (another process could take it before it is used; CI machines are
/// quiet enough that the run would say so plainly).
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The gateway's configuration: one provider per vendor format, both at the relay.
fn config(relay_port: u16, listen_port: u16, data: &std::path::Path) -> String {
    format!(
        r#"# Written by `cargo xtask ci` for the gateway run (docs/gateways.md).
[providers.relay]
type = "openai"
base_url = "http://127.0.0.1:{relay_port}/v1"
credential = {{ env = "RELAY_KEY" }}
timeout_secs = 2

[providers.relay-anthropic]
type = "anthropic"
base_url = "http://127.0.0.1:{relay_port}"
credential = {{ env = "RELAY_KEY" }}
timeout_secs = 2

[database]
data_dir = "{data}"

[server]
listen = "127.0.0.1:{listen_port}"

[dispatcher]
# A vendor asking for 20 s goes to the caller with its Retry-After instead of being waited out
# past the caller's own timeout.
retry_after_cap_ms = 10000
# The suite fails calls on purpose, one check after another: an open breaker would refuse the
# next check's calls, and resuming a cut stream by prefill meets a mock that does not continue
# one (it repeats its text). Both are judged by the suite's own DSP checks instead.
breaker = false
stream_recovery = false
"#,
        data = data.display()
    )
}

/// A running `concord serve`, stopped and its folder removed when dropped.
struct Gateway {
    child: std::process::Child,
    data: PathBuf,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// Runs the gateway conformance against `concord serve`; every applicable check must pass.
pub fn against_concord() -> Result<()> {
    let concord = crate::root().join("target/debug/concord");
    let (relay_port, listen_port) = (free_port()?, free_port()?);
    let data = std::env::temp_dir().join(format!("concord-xtask-gateway-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data)?;
    let file = data.join("concord.toml");
    std::fs::write(&file, config(relay_port, listen_port, &data))?;
    let file = file.to_string_lossy().into_owned();
    let made = std::process::Command::new(&concord)
        .args(["tenants", "create", "gateway-ci", "--config", &file])
        .env("CONCORD_DATA_DIR", &data)
        .output()
        .with_context(|| format!("running {}", concord.display()))?;
    let key = String::from_utf8_lossy(&made.stdout)
        .split_whitespace()
        .find(|w| w.starts_with("sk-concord-"))
        .map(str::to_owned)
        .with_context(|| {
            format!(
                "`concord tenants create` printed no key: {}",
                String::from_utf8_lossy(&made.stderr)
            )
        })?;
    let mut child = std::process::Command::new(&concord)
        .args(["serve", "--config", &file])
        .env("CONCORD_DATA_DIR", &data)
        .env("RELAY_KEY", concord_conformance::MOCK_KEY)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", concord.display()))?;
    let stdout = child.stdout.take().context("the server's stdout")?;
    let gateway = Gateway { child, data };
    let first = std::io::BufReader::new(stdout)
        .lines()
        .next()
        .context("the server printed nothing")??;
    if !first.contains("listening on") {
        bail!("`concord serve` did not start: {first}");
    }
    let origin = format!("http://127.0.0.1:{listen_port}");
    for (provider, prefix) in [("openai", "relay/"), ("anthropic", "relay-anthropic/")] {
        for door in ["openai", "anthropic"] {
            println!("\n{provider} behind `concord serve` as a gateway, through the {door} door:");
            crate::conformance::run(crate::conformance::Args::gateway(
                &origin, &key, door, prefix, relay_port, provider,
            ))?;
        }
    }
    drop(gateway);
    Ok(())
}
