//! `concord models …` and the model database in `concord chat`: on a fresh data folder with no setup,
//! the vendored snapshot's models and prices; a cost that matches a hand computation; the
//! lifecycle (a deprecated model warns, an inactive one is refused with nothing sent); the
//! default model; bad input is exit 2 and writes nothing.

use concord_harness::{MockVendor, Protocol};
use serde_json::Value;

use crate::common::{concord, stdout_json, vars};

/// A data folder of this test's own.
fn data(test: &str) -> (String, String) {
    let dir =
        std::env::temp_dir().join(format!("concord-models-cli-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    ("CONCORD_DATA_DIR".into(), dir.display().to_string())
}

async fn run(args: &[&str], env: &[(String, String)]) -> std::process::Output {
    concord(args.iter().map(|s| s.to_string()).collect(), env.to_vec()).await
}

fn chat(mock: &MockVendor, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "chat",
        "--provider",
        "openai",
        "--base-url",
        &mock.base_url(),
        "--api-key",
        "sk-test-0123456789",
        "--json",
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push("hi".into());
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_installation_lists_the_snapshot_and_a_call_costs_what_the_hand_says() {
    let env = vec![data("fresh")];
    let out = run(&["models", "list", "--json"], &env).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = list.as_array().unwrap();
    let providers: std::collections::BTreeSet<&str> = list
        .iter()
        .map(|m| m["provider"].as_str().unwrap())
        .collect();
    for p in ["openai", "anthropic", "gemini", "vertex", "azure"] {
        assert!(providers.contains(p), "{p} missing: {providers:?}");
    }
    let mini = list
        .iter()
        .find(|m| m["id"] == "openai/gpt-4o-mini")
        .unwrap();
    // LiteLLM 1.110.2: 1.5e-07 and 6e-07 dollars per token.
    assert_eq!(mini["prices_per_million"]["input"], "0.15");
    assert_eq!(mini["prices_per_million"]["output"], "0.6");
    assert_eq!(mini["source"], "litellm 1.110.2");
    // No key and no configuration: the registry registers nothing, so the model database shows
    // the provider as unavailable rather than inventing one.
    assert_eq!(mini["provider_registered"], false);
    let keyed = run(
        &["models", "show", "openai/gpt-4o-mini", "--json"],
        &[
            env[0].clone(),
            ("OPENAI_API_KEY".into(), "sk-test-0123456789".into()),
        ],
    )
    .await;
    assert_eq!(stdout_json(&keyed)["provider_registered"], true);

    // The mock's `text` answer reports 19 input and 10 output tokens: at 0.15 and 0.60 per
    // million, 19 × 0.15 + 10 × 0.60 = 2.85 + 6 = 8.85 microdollars.
    let mock = MockVendor::start(Protocol::Openai, "text").await.unwrap();
    let out = concord(chat(&mock, &["--model", "gpt-4o-mini"]), env.clone()).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cost = &stdout_json(&out)["cost"];
    assert_eq!(cost["total"], "0.00000885", "{cost}");
    assert_eq!(cost["input"], "0.00000285");
    assert_eq!(cost["output"], "0.000006");
    assert_eq!(cost["currency"], "USD");

    // A model name the model database does not have is priced by the model that answered (the
    // mock answers as gpt-4o-mini-2024-07-18, which the snapshot has).
    let out = concord(chat(&mock, &["--model", "my-alias"]), env).await;
    assert!(out.status.success());
    assert_eq!(
        stdout_json(&out)["cost"]["model"],
        "openai/gpt-4o-mini-2024-07-18"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deprecated_models_warn_inactive_ones_are_refused_and_the_default_is_used() {
    let env = vec![data("lifecycle")];
    let mock = MockVendor::start(Protocol::Openai, "text").await.unwrap();
    let out = run(
        &[
            "models",
            "deprecate",
            "openai/gpt-4o-mini",
            "--replaced-by",
            "openai/gpt-4.1-mini",
        ],
        &env,
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = concord(chat(&mock, &["--model", "gpt-4o-mini"]), env.clone()).await;
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("deprecated") && stderr.contains("openai/gpt-4.1-mini"),
        "{stderr}"
    );
    assert_eq!(mock.requests().len(), 1);

    let out = run(
        &[
            "models",
            "remove",
            "openai/gpt-4o-mini",
            "--replaced-by",
            "openai/gpt-4.1-mini",
        ],
        &env,
    )
    .await;
    assert!(out.status.success());
    let out = concord(chat(&mock, &["--model", "gpt-4o-mini"]), env.clone()).await;
    assert_eq!(out.status.code(), Some(2));
    let err = &stdout_json(&out)["error"];
    assert_eq!(err["kind"], "not_found");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("openai/gpt-4.1-mini"),
        "{err}"
    );
    assert_eq!(
        mock.requests().len(),
        1,
        "nothing was sent for the inactive model"
    );

    let out = run(
        &["models", "default", "default", "openai/gpt-4.1-mini"],
        &env,
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = concord(chat(&mock, &[]), env).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mock.requests()[1].body["model"], "gpt-4.1-mini");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_exit_2_and_writes_nothing() {
    let env = vec![data("bad")];
    for (args, says) in [
        (
            vec!["models", "show", "openai/no-such-model"],
            "not in the model database",
        ),
        (vec!["models", "show", "gpt-4o"], "provider/model"),
        (
            vec![
                "models",
                "set",
                "openai/ft-1",
                "--input",
                "-1",
                "--output",
                "2",
            ],
            "negative",
        ),
        (
            vec![
                "models",
                "set",
                "openai/ft-1",
                "--input",
                "0.0000001",
                "--output",
                "2",
            ],
            "more precision",
        ),
        (
            vec!["models", "set", "openai/ft-1", "--input", "0.1"],
            "--output",
        ),
        (
            vec![
                "models",
                "set",
                "openai/ft-1",
                "--input",
                "0.1",
                "--output",
                "1",
                "--status",
                "retired",
            ],
            "--status",
        ),
        (
            vec![
                "models",
                "deprecate",
                "openai/gpt-4o",
                "--replaced-by",
                "openai/nope",
            ],
            "not in the model database",
        ),
        (
            vec!["models", "default", "default", "openai/nope"],
            "not in the model database",
        ),
    ] {
        let out = run(&args, &env).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    // A file whose second entry is broken: an error naming it, and the first not imported.
    let dir =
        std::env::temp_dir().join(format!("concord-models-cli-{}-import", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("prices.json");
    std::fs::write(
        &file,
        r#"{"ok-model": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6},
            "zz-bad": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": "cheap", "output_cost_per_token": 2e-6}}"#,
    )
    .unwrap();
    let out = run(&["models", "import", &file.display().to_string()], &env).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("zz-bad.input_cost_per_token"), "{stderr}");
    let out = run(&["models", "show", "openai/ok-model"], &env).await;
    assert_eq!(out.status.code(), Some(2), "nothing was half-written");
    std::fs::write(&file, "[{\"provider\": ").unwrap();
    let out = run(&["models", "import", &file.display().to_string()], &env).await;
    assert!(String::from_utf8_lossy(&out.stderr).contains("prices.json:1:"));

    // concord's own format (prices in picodollars per token) is checked as strictly: a
    // negative price in the above-threshold tier names the entry and the field.
    std::fs::write(
        &file,
        r#"[{"provider": "openai", "id": "own-1", "status": "active", "source": "test",
             "prices": {"base": {"input": 1000000, "output": 2000000},
                        "above": [200000, {"input": -5, "output": 2000000}]}}]"#,
    )
    .unwrap();
    let out = run(&["models", "import", &file.display().to_string()], &env).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("entry 0") && stderr.contains("prices.above.input is negative"),
        "{stderr}"
    );
    let out = run(&["models", "show", "openai/own-1"], &env).await;
    assert_eq!(out.status.code(), Some(2), "nothing was written");

    // And a good import of that file works.
    std::fs::write(
        &file,
        r#"{"ok-model": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}}"#,
    )
    .unwrap();
    let out = run(&["models", "import", &file.display().to_string()], &env).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["models", "show", "openai/ok-model", "--json"], &env).await;
    assert_eq!(stdout_json(&out)["prices_per_million"]["input"], "1");
    let out = run(
        &["providers", "limits", "openai", "--rpm", "500"],
        &vars(&[env[0].0.as_str()].map(|k| (k, env[0].1.as_str()))),
    )
    .await;
    assert!(out.status.success());
    assert_eq!(stdout_json(&out)["requests_per_minute"], 500);
}

/// `concord models set` with `[redis] url` tells the running instances: the word reaches a
/// listener on the edits channel, and the CLI says how many heard. Against a redis-server of the
/// test's own (`concord_harness::RedisServer`: skipped locally without one, a failure under
/// `CI=true`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_is_announced_to_the_running_instances_through_redis() {
    use futures_util::StreamExt;
    let Some(server) = concord_harness::RedisServer::start("the CLI's announcement test").await
    else {
        return;
    };
    let url = server.url();
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub.subscribe("concord:changed").await.unwrap();
    let mut env = vec![data("announce")];
    env.push(("CONCORD_REDIS_URL".into(), url));
    let out = run(
        &["models", "set", "openai/gpt-4o-mini", "--input", "7"],
        &env,
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("told 1 running instance(s)"), "{said}");
    let message = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        pubsub.on_message().next(),
    )
    .await
    .expect("the word within 5 s")
    .unwrap();
    assert_eq!(message.get_payload::<String>().unwrap(), "models cli");
    // A listing writes nothing and says nothing.
    let out = run(&["models", "list"], &env).await;
    assert!(!String::from_utf8_lossy(&out.stderr).contains("told"));
}
