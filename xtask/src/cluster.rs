//! `cargo xtask cluster`: several `concord serve` instances sharing one Postgres and one Redis,
//! with the mock vendors behind them, all on loopback, for a person to try what
//! docs/scale-out.md describes; Ctrl-C stops everything and removes the database.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use concord_harness::{MockVendor, Protocol};

/// `cargo xtask cluster`.
#[derive(clap::Args)]
pub struct Args {
    /// How many instances of `concord serve`.
    #[arg(long, default_value_t = 2)]
    instances: u16,
    /// The first instance's port on 127.0.0.1; the others take the next ones.
    #[arg(long, default_value_t = 8081)]
    port: u16,
}

/// Children killed (and waited for) when dropped, whatever way the command ends.
#[derive(Default)]
struct Children(Vec<(String, Child)>);

impl Drop for Children {
    fn drop(&mut self) {
        for (name, c) in &mut self.0 {
            // SIGTERM first: `concord serve` finishes its calls and writes its records.
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let mut waited = 0;
            while waited < 50 && matches!(c.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(100));
                waited += 1;
            }
            let _ = c.kill();
            let _ = c.wait();
            eprintln!("stopped {name}");
        }
    }
}

/// The Postgres `.ci/postgres` started; stopped and removed when dropped.
struct Postgres {
    dir: String,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new(crate::root().join(".ci/postgres"))
            .args(["stop", &self.dir])
            .status();
        eprintln!("stopped Postgres and removed its data");
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub fn run(args: Args) -> Result<()> {
    if args.instances == 0 {
        bail!("--instances: at least 1");
    }
    if !std::path::Path::new("/usr/bin/redis-server").exists() {
        bail!("redis-server is not installed: `apt-get install redis-server` (Debian), or run .ci/packages");
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    crate::run(&cargo, &["build", "--quiet", "-p", "concord-cli"])?;
    let concord = crate::root().join("target/debug/concord");

    eprintln!("starting Postgres (.ci/postgres installs Debian's postgresql when absent)…");
    let out = Command::new(crate::root().join(".ci/postgres"))
        .arg("start")
        .stderr(Stdio::inherit())
        .output()
        .context("running .ci/postgres")?;
    if !out.status.success() {
        bail!("Postgres did not start");
    }
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    let var = |name: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .map(str::to_owned)
    };
    let (Some(database), Some(dir)) = (
        var("CONCORD_TEST_POSTGRES_URL"),
        var("CONCORD_TEST_POSTGRES_DIR"),
    ) else {
        bail!(".ci/postgres said nothing usable: {line}");
    };
    let _postgres = Postgres { dir };

    let mut children = Children::default();
    let redis_port = free_port()?;
    let redis = Command::new("/usr/bin/redis-server")
        .args(["--port", &redis_port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .context("starting redis-server")?;
    children.0.push(("Redis".into(), redis));
    let redis_url = format!("redis://127.0.0.1:{redis_port}/0");

    let rt = tokio::runtime::Runtime::new()?;
    let mocks: Vec<MockVendor> = rt.block_on(async {
        let mut all = Vec::new();
        for p in [Protocol::Openai, Protocol::Anthropic, Protocol::Gemini] {
            all.push(MockVendor::start(p, "auto").await?);
        }
        Ok::<_, anyhow::Error>(all)
    })?;
    let admin_key = concord_server::tenants::new_admin_key()?;
    let mut env: Vec<(String, String)> = vec![
        ("CONCORD_DATABASE_URL".into(), database.clone()),
        ("CONCORD_REDIS_URL".into(), redis_url.clone()),
        ("CONCORD_ADMIN_KEY".into(), admin_key.clone()),
    ];
    for (m, (key, base)) in mocks.iter().zip([
        ("OPENAI_API_KEY", "OPENAI_BASE_URL"),
        ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"),
        ("GEMINI_API_KEY", "GEMINI_BASE_URL"),
    ]) {
        env.push((key.into(), "sk-mock-vendor".into()));
        env.push((base.into(), m.base_url()));
    }
    let tenant = Command::new(&concord)
        .args(["tenants", "create", "cluster-demo", "--rpm", "60"])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()?;
    if !tenant.status.success() {
        bail!(
            "the demo tenant was not made: {}",
            String::from_utf8_lossy(&tenant.stderr)
        );
    }
    let key = String::from_utf8_lossy(&tenant.stdout).trim().to_owned();

    let mut urls = Vec::new();
    for i in 0..args.instances {
        let port = args.port + i;
        let mut child = Command::new(&concord)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .spawn()
            .context("starting concord serve")?;
        let mut lines = std::io::BufReader::new(child.stdout.take().context("stdout")?).lines();
        let first = lines.next();
        // The rest of what it prints goes on to ours (a closed pipe would end it).
        let n = i + 1;
        std::thread::spawn(move || {
            for l in lines.map_while(Result::ok) {
                eprintln!("[instance {n}] {l}");
            }
        });
        children.0.push((format!("instance {}", i + 1), child));
        match first {
            Some(Ok(l)) if l.contains("listening on") => {
                urls.push(format!("http://127.0.0.1:{port}"))
            }
            _ => bail!(
                "instance {} on port {port} did not start (is the port free? --port)",
                i + 1
            ),
        }
    }

    println!(
        "\nA cluster on loopback: {} instances of concord serve sharing Postgres and Redis.",
        args.instances
    );
    for (i, u) in urls.iter().enumerate() {
        println!("  instance {}: {u}   (admin pages: {u}/admin)", i + 1);
    }
    println!("  Postgres: {database}   (a throwaway server; removed on Ctrl-C)");
    println!("  Redis:    {redis_url}");
    println!("  admin key: {admin_key}");
    println!("  tenant cluster-demo (60 requests a minute, shared by all instances), key: {key}");
    println!("\nTry, against any instance:");
    println!(
        "  curl {}/v1/chat/completions -H 'Authorization: Bearer {key}' -H 'content-type: application/json' -d '{{\"model\": \"gpt-4o-mini\", \"messages\": [{{\"role\": \"user\", \"content\": \"Hello\"}}]}}'",
        urls[0]
    );
    println!(
        "  curl {}/health/ready     # \"shared\": Redis, the live instances",
        urls[urls.len() - 1]
    );
    println!("\nCtrl-C stops everything.");
    rt.block_on(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    eprintln!("stopping…");
    drop(children);
    drop(mocks);
    Ok(())
}
