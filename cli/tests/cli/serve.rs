//! `concord serve --mock-providers` as a newcomer runs it: one command, no keys, no setup; the
//! printed key answers through the OpenAI door from each vendor's mock; SIGTERM stops it
//! cleanly. And `concord tenants …` on the embedded database.

use std::io::BufRead;

use serde_json::Value;

use crate::common::{concord, stdout_json};

fn data(test: &str) -> (String, String) {
    let dir = std::env::temp_dir().join(format!("concord-serve-cli-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    ("CONCORD_DATA_DIR".into(), dir.display().to_string())
}

/// `concord serve --mock-providers` on a free port with a database of its own and `env`
/// added: the child, the URL it listens on, and the demo tenant's key it printed.
async fn start_demo(
    var: &str,
    dir: &str,
    env: &[(&str, &str)],
) -> (std::process::Child, String, String, String) {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("concord"));
    for v in concord_registry::settings::docs::all_vars(&concord_server::sections()) {
        cmd.env_remove(&v.name);
    }
    cmd.envs(env.iter().copied());
    let mut child = cmd
        .args(["serve", "--mock-providers", "--listen", "127.0.0.1:0"])
        .env(var, dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (base, key, admin) = tokio::task::spawn_blocking(move || {
        let mut lines = std::io::BufReader::new(stdout).lines();
        let first = lines.next().unwrap().unwrap();
        let base = first
            .split("listening on ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap()
            .to_owned();
        let second = lines.next().unwrap().unwrap();
        // On to the admin pages' line and its key; the rest is drained so the pipe never fills.
        let admin = lines
            .by_ref()
            .map(|l| l.unwrap())
            .find_map(|l| {
                l.split("made for this run: ")
                    .nth(1)
                    .map(|k| k.trim_end_matches(')').to_owned())
            })
            .unwrap();
        std::thread::spawn(move || lines.for_each(drop));
        (base, second.rsplit(' ').next().unwrap().to_owned(), admin)
    })
    .await
    .unwrap();
    (child, base, key, admin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_mock_providers_answers_with_the_printed_key_and_stops_on_sigterm() {
    let (var, dir) = data("demo");
    let (child, base, key, admin) = start_demo(&var, &dir, &[]).await;
    assert!(key.starts_with("sk-concord-"), "{key}");
    assert!(admin.starts_with("sk-concord-admin-"), "{admin}");
    let client = reqwest::Client::new();
    for model in ["gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash"] {
        let r = client
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(serde_json::json!({"model": model, "messages": [{"role": "user", "content": "Hello"}]}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{model}");
        let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        assert_eq!(v["object"], "chat.completion", "{model}: {v}");
        assert!(
            v["choices"][0]["message"]["content"].is_string(),
            "{model}: {v}"
        );
    }
    // The admin pages show the demo: its first run made calls of models the calls above did not
    // use, recorded and priced, within a few seconds.
    let mut spend = Value::Null;
    for _ in 0..50 {
        let r = client
            .get(format!("{base}/admin/api/spend?days=1"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        spend = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        if spend["models"]["gemini/gemini-2.5-flash"]["calls"].as_u64() >= Some(2)
            && spend["models"]["openai/gpt-4o"]["calls"] == 1
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(spend["models"]["openai/gpt-4o"]["calls"], 1, "{spend}");
    assert_eq!(
        spend["models"]["anthropic/claude-haiku-4-5"]["calls"], 2,
        "{spend}"
    );
    assert_ne!(spend["total"]["cost"], "0", "{spend}");
    let page = client
        .get(format!("{base}/admin/spend"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.url().path(), "/admin/login", "the pages want the key");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stopped"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_made_listed_disabled_and_rotated() {
    let env = vec![data("tenants")];
    let run = |args: &[&str]| concord(args.iter().map(|s| s.to_string()).collect(), env.clone());
    let made = run(&["tenants", "create", "team-a"]).await;
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let key = String::from_utf8_lossy(&made.stdout).trim().to_owned();
    assert!(key.starts_with("sk-concord-"));
    let again = run(&["tenants", "create", "team-a"]).await;
    assert_eq!(again.status.code(), Some(2));
    let bad = run(&["tenants", "create", "Team A"]).await;
    assert_eq!(bad.status.code(), Some(2));
    let list = stdout_json(&run(&["tenants", "list", "--json"]).await);
    assert_eq!(list[0]["name"], "team-a");
    assert_eq!(list[0]["disabled"], false);
    // Only the key's last four characters are ever shown again.
    assert_eq!(list[0]["keys"][0], format!("…{}", &key[key.len() - 4..]));
    assert!(!list.to_string().contains(&key));
    assert!(run(&["tenants", "disable", "team-a"])
        .await
        .status
        .success());
    let list = stdout_json(&run(&["tenants", "list", "--json"]).await);
    assert_eq!(list[0]["disabled"], true);
    let rotated = run(&["tenants", "rotate-key", "team-a"]).await;
    let new_key = String::from_utf8_lossy(&rotated.stdout).trim().to_owned();
    assert_ne!(new_key, key);
    // Budgets: exact dollars, a named period; bad input is exit 2 and changes nothing.
    let made = run(&[
        "tenants", "create", "team-b", "--budget", "12.50", "--period", "day",
    ])
    .await;
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    for bad in [
        vec!["tenants", "budget", "team-b", "--usd", "-3"],
        vec!["tenants", "budget", "team-b", "--usd", "0.0000000000001"],
        vec![
            "tenants", "budget", "team-b", "--usd", "5", "--period", "week",
        ],
        vec!["tenants", "create", "team-c", "--budget", "lots"],
    ] {
        let out = run(&bad).await;
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
    let list = stdout_json(&run(&["tenants", "list", "--json"]).await);
    let b = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "team-b")
        .unwrap();
    assert_eq!(
        b["budget"],
        serde_json::json!({"usd": "12.5", "period": "day"})
    );
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["name"] != "team-c"));
    assert!(run(&["tenants", "budget", "team-b", "--none"])
        .await
        .status
        .success());
    let list = stdout_json(&run(&["tenants", "list", "--json"]).await);
    let b = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "team-b")
        .unwrap();
    assert!(b["budget"].is_null());
    let missing = run(&["tenants", "disable", "nobody"]).await;
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no tenant called nobody"));
}

/// With `--features otlp` and an OTLP endpoint in the environment, each call's span reaches a
/// loopback receiver at shutdown, with its gen_ai attributes and without the tenant's key.
/// (`cargo xtask ci` runs it, testing the workspace with `--features concord-cli/otlp`.)
#[cfg(feature = "otlp")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_export_carries_each_calls_span_with_its_gen_ai_attributes() {
    use std::sync::{Arc, Mutex};
    let bodies: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = bodies.clone();
    let receiver = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: String| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(body);
                "{}"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await });
    let (var, dir) = data("otlp");
    let (child, base, key, _) =
        start_demo(&var, &dir, &[("OTEL_EXPORTER_OTLP_ENDPOINT", &collector)]).await;
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(
            r#"{"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "Hello"}]}"#,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = bodies.lock().unwrap().join("\n");
    assert!(
        all.contains("chat claude-sonnet-4-5"),
        "the call's span: {all}"
    );
    for attribute in [
        "gen_ai.provider.name",
        "gen_ai.request.model",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.response.finish_reasons",
    ] {
        assert!(all.contains(attribute), "{attribute} in {all}");
    }
    assert!(!all.contains(&key), "the tenant's key is not in a span");
    assert!(!all.contains("Hello"), "nor the prompt");
    let _ = std::fs::remove_dir_all(&dir);
}
