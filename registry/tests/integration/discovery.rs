//! Discovery from the three sources at once, and refreshing the file's providers.

use std::path::Path;
use std::sync::Arc;

use concord_registry::{Options, Registry, Source, Sources, Status};

const VARS: [(&str, &str); 2] = [
    ("ANTHROPIC_API_KEY", "sk-ant-test-1234567"),
    ("LOCAL_KEY", "k-1234567"),
];

fn env(name: &str) -> Option<String> {
    VARS.iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

#[tokio::test]
async fn the_file_the_environment_and_a_plugin_each_add_providers() {
    let dir = tempfile::tempdir().unwrap();
    let minimal = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/minimal/plugin.py");
    write(
        dir.path(),
        "plugins/minimal/manifest.json",
        &format!(
            "{{\"command\": [\"python3\", {:?}], \"protocol\": 1}}",
            minimal.display().to_string()
        ),
    );
    write(
        dir.path(),
        "plugins/gone/manifest.json",
        "{\"command\": [\"./no-such-program\"]}",
    );
    write(
        dir.path(),
        "plugins/future/manifest.json",
        "{\"command\": [\"python3\"], \"protocol\": 99}",
    );
    let file = write(
        dir.path(),
        "concord.toml",
        "[providers.local]\ntype = \"openai-compatible\"\nbase_url = \"http://127.0.0.1:9/v1\"\ncredential = { env = \"LOCAL_KEY\" }\nmodel = \"m\"\n\n\
         [providers.off]\ntype = \"openai\"\nenabled = false\n\n\
         [providers.nokey]\ntype = \"gemini\"\ncredential = { env = \"UNSET_VAR\" }\n\n\
         [registry]\nplugins_dir = \"plugins\"\n",
    );
    let settings = concord_registry::load(&Sources::with_vars(Some(file), &VARS)).unwrap();
    let mut options = Options::from_settings(&settings, reqwest::Client::new());
    options.env = Arc::new(env);
    let registry = Registry::new(options);
    let found = registry.discover_all(&settings).await;

    let by = |s: Source| found.sources.iter().find(|r| r.source == s).unwrap();
    assert_eq!(by(Source::Config).added, ["local"]);
    let skipped: Vec<&str> = by(Source::Config)
        .skipped
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(skipped, ["nokey", "off"]);
    let why = &by(Source::Config).skipped[0].1;
    assert!(why.contains("UNSET_VAR"), "{why}");
    assert_eq!(by(Source::Environment).added, ["anthropic"]);
    assert_eq!(by(Source::Plugin).added, ["minimal"]);
    let why: Vec<&str> = by(Source::Plugin)
        .skipped
        .iter()
        .map(|(_, w)| w.as_str())
        .collect();
    assert!(why.iter().any(|w| w.contains("protocol 99")), "{why:?}");
    assert!(why.iter().any(|w| w.contains("not there")), "{why:?}");

    let snap = registry.snapshot();
    let row: Vec<(&str, Source, &str)> = snap
        .iter()
        .map(|i| (i.name.as_str(), i.source, i.status.name()))
        .collect();
    assert_eq!(
        row,
        [
            ("anthropic", Source::Environment, "ready"),
            ("local", Source::Config, "ready"),
            ("minimal", Source::Plugin, "ready"),
        ]
    );
    // The plan a listing shows without starting anything: every registered name, and the ones
    // that were tried and failed; never the disabled one.
    let planned = concord_registry::planned_names(&settings, &env);
    assert_eq!(
        planned.iter().map(String::as_str).collect::<Vec<_>>(),
        ["anthropic", "future", "gone", "local", "minimal", "nokey"]
    );
    let local = registry.get("local").unwrap().context();
    assert_eq!(local.base_url.as_deref(), Some("http://127.0.0.1:9/v1"));
    assert_eq!(local.credential.unwrap().expose(), "k-1234567");
    registry.shutdown().await;
}

#[tokio::test]
async fn refresh_adds_changes_and_removes_the_files_providers() {
    let dir = tempfile::tempdir().unwrap();
    let section = |name: &str, model: &str| {
        format!("[providers.{name}]\ntype = \"openai-compatible\"\nbase_url = \"http://127.0.0.1:9/v1\"\ncredential = {{ env = \"LOCAL_KEY\" }}\nmodel = \"{model}\"\n")
    };
    let file = write(
        dir.path(),
        "c.toml",
        &(section("a", "m1") + &section("b", "m1")),
    );
    let load =
        |f: &Path| concord_registry::load(&Sources::with_vars(Some(f.into()), &VARS)).unwrap();
    let mut options = Options::new(reqwest::Client::new());
    options.env = Arc::new(env);
    let registry = Registry::new(options);
    registry.discover_all(&load(&file)).await;
    let held_b = registry.get("b").unwrap();

    write(
        dir.path(),
        "c.toml",
        &(section("b", "m2") + &section("c", "m1")),
    );
    let report = registry.refresh(&load(&file)).await;
    assert_eq!(report.added, ["b", "c"]);
    assert_eq!(
        registry.names(),
        ["anthropic", "b", "c"],
        "the environment's provider stays"
    );
    assert_eq!(
        registry.get("b").unwrap().context().model.as_deref(),
        Some("m2")
    );
    // A handle taken before keeps the provider it had, now disposed in the registry.
    assert_eq!(held_b.context().model.as_deref(), Some("m1"));
    assert_eq!(held_b.info().status, Status::Disposed);
}
