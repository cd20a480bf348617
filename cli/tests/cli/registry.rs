//! `concord config check`, `concord providers list` and `concord chat --config` end to end.

use std::path::PathBuf;

use crate::common::{concord, stdout_json, vars};
use concord_harness::{MockVendor, Protocol};

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("concord-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("concord.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn repo(rel: &str) -> String {
    format!("{}/../{rel}", env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test]
async fn config_check_reports_all_three_mistakes_with_their_sources_and_exits_2() {
    let file = temp_file(
        "three",
        "[providers.azure]\ntype = \"azure\"\nbase_url = \"not a url\"\n\n[dispatcher]\nretries = \"many\"\n",
    );
    let out = concord(
        vec!["config".into(), "check".into(), file.display().to_string()],
        vars(&[("CONCORD_RUNTIMES_MAX_USERS", "0")]),
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let f = file.display();
    for expected in [
        format!("providers.azure.base_url ({f}:3)"),
        format!("dispatcher.retries ({f}:6)"),
        "runtimes.max_users (environment variable CONCORD_RUNTIMES_MAX_USERS)".to_owned(),
    ] {
        assert!(
            stderr.contains(&expected),
            "{expected} missing from:\n{stderr}"
        );
    }
    assert!(stderr.contains("3 problems"), "{stderr}");
}

#[tokio::test]
async fn config_check_prints_the_resolved_file_with_sources_and_no_secret() {
    let out = concord(
        vec![
            "config".into(),
            "check".into(),
            repo("concord.example.toml"),
        ],
        vars(&[
            ("OPENAI_API_KEY", "sk-secret-value-123456"),
            ("CONCORD_DISPATCH_RETRIES", "4"),
        ]),
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("credential = { env = \"OPENAI_API_KEY\" }"),
        "{stdout}"
    );
    assert!(
        stdout.contains("retries = 4  # environment variable CONCORD_DISPATCH_RETRIES"),
        "{stdout}"
    );
    assert!(!stdout.contains("sk-secret"), "{stdout}");
}

#[tokio::test]
async fn providers_list_shows_the_file_the_environment_and_a_plugin() {
    let out = concord(
        vec![
            "providers".into(),
            "list".into(),
            "--config".into(),
            repo("concord.example.toml"),
            "--json".into(),
        ],
        vars(&[("OPENAI_API_KEY", "sk-test-0123456789")]),
    )
    .await;
    let json = stdout_json(&out);
    let listed: Vec<(String, String)> = json["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["source"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (name, source) in [
        ("main", "config"),
        ("openai", "environment"),
        ("minimal", "plugin"),
    ] {
        assert!(
            listed.iter().any(|(n, s)| n == name && s == source),
            "{name} from {source} missing: {listed:?}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let skipped = json["skipped"].to_string();
    assert!(skipped.contains("enabled = false"), "{skipped}");
}

#[tokio::test]
async fn chat_calls_a_registered_provider_with_its_section() {
    let mock = MockVendor::start(Protocol::Openai, "text").await.unwrap();
    let file = temp_file(
        "chat",
        &format!(
            "[providers.team]\ntype = \"openai\"\nbase_url = \"{}\"\ncredential = {{ env = \"TEAM_KEY\" }}\nmodel = \"team-model\"\ntemperature = 0.25\n",
            mock.base_url()
        ),
    );
    let chat = |provider: &str, json: bool| {
        let file = file.display().to_string();
        let mut args = vec!["chat", "--config", &file, "--provider", provider, "hi"];
        if json {
            args.insert(5, "--json");
        }
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        concord(args, vars(&[("TEAM_KEY", "sk-team-0123456789")]))
    };
    let out = chat("team", true).await;
    let json = stdout_json(&out);
    assert_eq!(json["provider"], "team", "{json}");
    let seen = mock.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].credential.as_deref(), Some("sk-team-0123456789"));
    assert_eq!(seen[0].body["model"], "team-model");
    assert_eq!(seen[0].body["temperature"], 0.25);

    // A name the file does not register is a usage error naming what is registered.
    let out = chat("nope", false).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("team"));
}
