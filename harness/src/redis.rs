//! A `redis-server` of a test's (or a bench's) own: Debian's binary on a free loopback port,
//! nothing saved, killed on drop. The server's scale-out tests, the CLI's announcement test and
//! the shared-limits bench all start theirs here.
//!
//! `.ci/run` installs redis-server beside the build (`.ci/packages`, which says it is done in
//! the file `CONCORD_PACKAGES_DONE` names): [`RedisServer::start`] waits for that first. Without
//! redis-server, locally, it says the caller skipped and why; under `CI=true` it panics.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Where Debian installs it.
pub const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// A running redis-server; killed on drop.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
}

impl RedisServer {
    /// A new one, or `None` (said on stderr) when redis-server is not installed. `what` names
    /// the caller in a CI failure.
    pub async fn start(what: &str) -> Option<Self> {
        if let Ok(done) = std::env::var("CONCORD_PACKAGES_DONE") {
            for _ in 0..1200 {
                if std::path::Path::new(&done).exists() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        if !std::path::Path::new(REDIS_SERVER).exists() {
            let why = "redis-server is not installed (Debian's redis-server; .ci/run installs it)";
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{what} cannot run: {why}"
            );
            eprintln!("skipped: {what}: {why}");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        let mut r = Self { child: None, port };
        r.up().await;
        Some(r)
    }

    /// Starts it (again) on the same port, with nothing kept from before.
    pub async fn up(&mut self) {
        let child = Command::new(REDIS_SERVER)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("redis-server did not start on {}", self.port);
    }

    /// Killed outright, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
