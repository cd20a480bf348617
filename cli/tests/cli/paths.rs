//! One provider, three ways to configure it — command-line flags, the environment, a config
//! section — put the same request on the wire (URL, headers, body), directly and behind the
//! enterprise AI gateway: they all fill one `Connection` and build through one function.

use concord_harness::{MockConfig, MockVendor, Protocol, RecordedRequest};

use crate::common::{concord, stdout_json, vars};

const KEY: &str = "sk-paths-0123456789abcdef";

/// What a request put on the wire, in a form two runs can be compared by.
fn wire(r: &RecordedRequest) -> String {
    let mut headers: Vec<String> = r.headers.iter().map(|(n, v)| format!("{n}: {v}")).collect();
    headers.sort();
    format!(
        "{} {}?{}\n{}\n{}",
        r.method,
        r.path,
        r.query.as_deref().unwrap_or(""),
        headers.join("\n"),
        r.body
    )
}

struct Case {
    label: &'static str,
    /// `concord chat` with every setting as a flag.
    flags: Vec<String>,
    /// The same settings as the row's variables.
    env: Vec<(&'static str, String)>,
    /// The same settings as a `[providers.<name>]` section (its key from `PATHS_KEY`).
    section: String,
}

async fn run(mock: &MockVendor, args: Vec<String>, env: Vec<(String, String)>) -> String {
    let before = mock.requests().len();
    let out = concord(args, env).await;
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout_json(&out)["text"],
        "Hello! How can I help you today?"
    );
    let sent = mock.requests();
    assert_eq!(sent.len(), before + 1, "one request per run");
    wire(&sent[before])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_environment_and_a_section_put_the_same_request_on_the_wire() {
    // Azure behind the gateway: the gateway's address and token, the vendor's path and
    // api-version, the calling user as a header.
    let gateway = MockVendor::start_with(
        MockConfig::new(Protocol::Openai)
            .scenario("text")
            .expect_key("gw-token-0123456789")
            .key_header("authorization"),
    )
    .await
    .unwrap();
    // A compatible server reached directly.
    let direct = MockVendor::start_with(MockConfig::new(Protocol::Openai).expect_key(KEY))
        .await
        .unwrap();
    let gateway_env = |mock: &MockVendor| {
        vec![
            ("GENAI_PLATFORM_ENABLED", "true".to_owned()),
            ("GENAI_PLATFORM_BASE_URL", format!("{}/gw", mock.url())),
            ("GENAI_PLATFORM_PROJECT", "claims-triage".to_owned()),
            ("GENAI_PLATFORM_TOKEN", "gw-token-0123456789".to_owned()),
        ]
    };
    let resource = "https://contoso.openai.azure.com";
    let cases = [
        (
            &gateway,
            Case {
                label: "azure behind the gateway",
                flags: [
                    "--provider", "azure", "--base-url", resource, "--api-key", KEY,
                    "--api-version", "2024-10-21", "--timeout-secs", "7",
                ]
                .map(String::from)
                .to_vec(),
                env: vec![
                    ("AZURE_OPENAI_ENDPOINT", resource.to_owned()),
                    ("AZURE_OPENAI_API_KEY", KEY.to_owned()),
                    ("AZURE_OPENAI_API_VERSION", "2024-10-21".to_owned()),
                    ("CONCORD_TIMEOUT_SECS", "7".to_owned()),
                ],
                section: format!(
                    "[providers.azure]\ntype = \"azure\"\nbase_url = \"{resource}\"\ncredential = {{ env = \"PATHS_KEY\" }}\napi_version = \"2024-10-21\"\ntimeout_secs = 7\n"
                ),
            },
        ),
        (
            &direct,
            Case {
                label: "a compatible server",
                flags: [
                    "--provider", "openai-compatible", "--base-url", &direct.base_url(),
                    "--api-key", KEY, "--api", "chat",
                ]
                .map(String::from)
                .to_vec(),
                env: vec![
                    ("OPENAI_COMPATIBLE_BASE_URL", direct.base_url()),
                    ("OPENAI_COMPATIBLE_API_KEY", KEY.to_owned()),
                ],
                section: format!(
                    "[providers.openai-compatible]\ntype = \"openai-compatible\"\napi = \"chat\"\nbase_url = \"{}\"\ncredential = {{ env = \"PATHS_KEY\" }}\n",
                    direct.base_url()
                ),
            },
        ),
    ];
    for (mock, case) in cases {
        let shared: Vec<(&str, String)> = if std::ptr::eq(mock, &gateway) {
            gateway_env(mock)
        } else {
            Vec::new()
        };
        let owned = |extra: &[(&'static str, String)]| -> Vec<(String, String)> {
            shared
                .iter()
                .chain(extra)
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect()
        };
        let call = [
            "--model",
            "gpt-4o-deployment",
            "--tenant",
            "user-42",
            "--json",
            "hi",
        ];
        let provider = case.flags[1].clone();

        let mut by_flags = vec!["chat".to_owned()];
        by_flags.extend(case.flags.clone());
        by_flags.extend(call.map(String::from));
        let flags = run(mock, by_flags, owned(&[])).await;

        let mut by_env = vec!["chat".to_owned(), "--provider".into(), provider.clone()];
        if case.flags.contains(&"--api".to_owned()) {
            by_env.extend(["--api".into(), "chat".into()]);
        }
        by_env.extend(call.map(String::from));
        let env = run(mock, by_env, owned(&case.env)).await;

        let dir = std::env::temp_dir().join(format!(
            "concord-paths-{}-{}",
            std::process::id(),
            case.label.replace(' ', "-")
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("concord.toml");
        std::fs::write(&file, &case.section).unwrap();
        let mut by_section = vec![
            "chat".to_owned(),
            "--config".into(),
            file.display().to_string(),
            "--provider".into(),
            provider,
        ];
        by_section.extend(call.map(String::from));
        let section = run(
            mock,
            by_section,
            owned(&[
                ("PATHS_KEY", KEY.to_owned()),
                ("CONCORD_DISCOVER_ENV", "false".into()),
            ]),
        )
        .await;

        assert_eq!(flags, env, "{}: flags vs environment", case.label);
        assert_eq!(flags, section, "{}: flags vs config section", case.label);
        if std::ptr::eq(mock, &gateway) {
            assert!(
                flags.contains("POST /gw/openai/deployments/gpt-4o-deployment/chat/completions?api-version=2024-10-21"),
                "{flags}"
            );
            assert!(flags.contains("x-genai-user: user-42"), "{flags}");
            assert!(
                !flags.contains(KEY),
                "the gateway's token replaces the key: {flags}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_url_with_a_query_is_refused_by_config_check() {
    let dir = std::env::temp_dir().join(format!("concord-paths-{}-query", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("concord.toml");
    std::fs::write(
        &file,
        "[providers.o]\ntype = \"openai\"\nbase_url = \"https://api.openai.com/v1?api-key=abc123\"\n",
    )
    .unwrap();
    let out = concord(
        vec!["config".into(), "check".into(), file.display().to_string()],
        vars(&[]),
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("providers.o.base_url ({}:3)", file.display())),
        "{stderr}"
    );
    assert!(stderr.contains("query"), "{stderr}");
    assert!(
        !stderr.contains("abc123"),
        "the query is not echoed: {stderr}"
    );
}
