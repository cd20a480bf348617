//! The plugin host against misbehaving plugins (small `sh` scripts): a crash, a hang, garbage
//! on stdout, a wrong handshake. Each must give a clear error quickly, never a hang.
#![cfg(all(feature = "plugin", unix))]

use std::time::{Duration, Instant};

use concord::plugin::{Manifest, PluginProvider};
use concord::{ErrorKind, Provider, Request, RuntimeContext};

const HANDSHAKE: &str = r#"{"type":"handshake","protocol":1,"name":"shplug","version":"0","capabilities":{"streaming":true,"tools":true,"parallel_tools":true,"tool_choice":true,"json_schema":true,"image_input":true,"reasoning_options":true,"reasoning_output":true,"usage_in_streams":true}}"#;

fn script(body: &str) -> Manifest {
    Manifest::command(["sh", "-c", &format!("echo '{HANDSHAKE}'; {body}")])
}

fn ctx() -> RuntimeContext {
    RuntimeContext::new()
        .model("m")
        .credential("sk-plugin-secret-0123456789")
        .base_url("http://127.0.0.1:9/v1")
        .client(reqwest::Client::new())
        .timeout(Duration::from_millis(200))
}

async fn started(body: &str) -> PluginProvider {
    PluginProvider::start(script(body)).await.expect("starts")
}

#[tokio::test]
async fn a_plugin_that_crashes_mid_call_fails_the_call_and_is_restarted() {
    let p = started("read line; echo oops >&2; exit 3").await;
    assert_eq!(p.name(), "shplug");
    for attempt in 0..2 {
        let e = p.generate(&Request::user("hi"), &ctx()).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Transport, "attempt {attempt}: {e}");
        assert!(e.message.contains("exited"), "attempt {attempt}: {e}");
        assert_eq!(e.provider, "shplug");
    }
}

#[tokio::test]
async fn a_plugin_that_hangs_times_out_within_the_context_timeout_and_a_grace() {
    let p = started("sleep 600").await;
    let started = Instant::now();
    let e = p.generate(&Request::user("hi"), &ctx()).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let s = p
        .stream(&Request::user("hi"), &ctx())
        .await
        .err()
        .expect("no stream");
    assert_eq!(s.kind, ErrorKind::Timeout, "{s}");
}

#[tokio::test]
async fn garbage_on_stdout_is_a_clear_malformed_error_naming_it() {
    let p = started("read line; echo 'Traceback (most recent call last):'; sleep 600").await;
    let e = p.generate(&Request::user("hi"), &ctx()).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transport, "{e}");
    assert!(e.message.contains("not a protocol message"), "{e}");
    assert!(e.message.contains("Traceback"), "{e}");
}

#[tokio::test]
async fn a_plugin_error_keeps_its_kind_and_loses_the_credential() {
    let p = started(
        r#"read line; id=$(echo "$line" | sed 's/.*"id":\([0-9]*\).*/\1/');
        echo "{\"type\":\"error\",\"id\":$id,\"error\":{\"kind\":\"rate_limited\",\"message\":\"bad key sk-plugin-secret-0123456789\",\"status\":429,\"retry_after_ms\":1500}}"; sleep 600"#,
    )
    .await;
    let e = p.generate(&Request::user("hi"), &ctx()).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::RateLimited, "{e}");
    assert_eq!(e.status, Some(429));
    assert!(e.retryable);
    assert_eq!(e.retry_after, Some(Duration::from_millis(1500)));
    assert!(!e.message.contains("sk-plugin-secret"), "{e}");
}

#[tokio::test]
async fn a_call_without_its_context_fails_before_reaching_the_plugin() {
    let p = started("read line; exit 3").await;
    let mut c = ctx();
    c.model = None;
    let e = p.generate(&Request::user("hi"), &c).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::MissingRuntimeContext, "{e}");
}

#[tokio::test]
async fn bad_starts_are_reported() {
    for (manifest, expect) in [
        (
            Manifest::command(["sh", "-c", "echo hello"]),
            "not a handshake",
        ),
        (
            Manifest::command(["sh", "-c", "exit 4"]),
            "exited before its handshake",
        ),
        (
            Manifest::command([
                "sh",
                "-c",
                &format!(
                    "echo '{}'",
                    HANDSHAKE.replace("\"protocol\":1", "\"protocol\":9")
                ),
            ]),
            "protocol 9",
        ),
        (
            Manifest::command(["/nonexistent/plugin-binary"]),
            "cannot start plugin",
        ),
    ] {
        let e = PluginProvider::start(manifest).await.unwrap_err();
        assert!(e.message.contains(expect), "{expect}: {e}");
    }
}
