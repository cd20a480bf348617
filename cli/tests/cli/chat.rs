//! `concord chat` end to end against the harness's mock vendors on loopback.

use crate::common::{concord, stdout_json, vars};
use concord_harness::{Fixtures, MockVendor, Protocol};

const KEY: &str = "sk-test-cli-0123456789abcdefSECRET";

/// The provider (and API) that speaks a mock protocol.
fn provider_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Openai | Protocol::OpenaiResponses => "openai",
        Protocol::Anthropic => "anthropic",
        Protocol::Gemini => "gemini",
    }
}

fn api_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Openai => "chat",
        Protocol::OpenaiResponses => "responses",
        Protocol::Anthropic => "messages",
        Protocol::Gemini => "generate-content",
    }
}

fn chat_args(mock: &MockVendor, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "chat",
        "--provider",
        provider_name(mock.protocol()),
        "--api",
        api_name(mock.protocol()),
        "--model",
        "test-model",
        "--base-url",
        &mock.base_url(),
        "--api-key",
        KEY,
        "--timeout-secs",
        "5",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_follows_the_contract_for_every_protocol_streamed_and_not() {
    let fixtures = Fixtures::default();
    for protocol in Protocol::ALL {
        for scenario in [
            "text",
            "reasoning",
            "tool_call",
            "parallel_tool_calls",
            "cached_usage",
        ] {
            let mut expect = fixtures
                .scenario(protocol, scenario)
                .unwrap()
                .file
                .expect
                .unwrap();
            // The CLI prints exactly id, provider_id, name, arguments per call; the opaque
            // signature (Gemini thoughtSignature) stays inside the library.
            for call in expect["tool_calls"].as_array_mut().unwrap() {
                call.as_object_mut().unwrap().remove("signature");
            }
            let mock = MockVendor::start(protocol, scenario).await.unwrap();
            for stream in [false, true] {
                let label = format!("{protocol}/{scenario} stream={stream}");
                let mut extra = vec!["--json", "hello"];
                if stream {
                    extra.insert(0, "--stream");
                }
                let out = concord(chat_args(&mock, &extra), vec![]).await;
                assert!(
                    out.status.success(),
                    "{label}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let got = stdout_json(&out);
                assert_eq!(got["provider"], provider_name(protocol), "{label}");
                for field in [
                    "id",
                    "model",
                    "text",
                    "reasoning",
                    "tool_calls",
                    "finish_reason",
                    "raw_finish_reason",
                ] {
                    assert_eq!(got[field], expect[field], "{label}: {field}");
                }
                // Usage: every counter of the contract's `Usage` present (null when unknown),
                // and the values the fixture expects (a counter it leaves out is null).
                let keys = |v: &serde_json::Value| -> Vec<String> {
                    v.as_object()
                        .map_or(Vec::new(), |o| o.keys().cloned().collect())
                };
                assert_eq!(
                    keys(&got["usage"]),
                    keys(&serde_json::to_value(concord::Usage::default()).unwrap()),
                    "{label}: usage keys"
                );
                let usage = |v: &serde_json::Value| {
                    serde_json::from_value::<concord::Usage>(v.clone()).unwrap()
                };
                assert_eq!(
                    usage(&got["usage"]),
                    usage(&expect["usage"]),
                    "{label}: usage"
                );
            }
            let sent = mock.requests();
            assert_eq!(sent.len(), 2);
            assert!(
                sent.iter().all(|r| r.credential() == Some(KEY)),
                "{protocol}: the key reaches the vendor in its header"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_mode_prints_the_answer_then_a_summary_on_stderr() {
    let mock = MockVendor::start(Protocol::Anthropic, "text")
        .await
        .unwrap();
    let out = concord(
        chat_args(&mock, &["--stream", "--system", "be brief", "hello"]),
        vec![],
    )
    .await;
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Hello! How can I help you today?\n"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("finish stop (end_turn)") && stderr.contains("21 in / 12 out tokens"),
        "{stderr}"
    );
    let body = &mock.requests()[0].body;
    assert_eq!(body["system"], "be brief");
    assert_eq!(
        body["max_tokens"], 4096,
        "the CLI supplies Anthropic's required max_tokens"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_key_exits_2_naming_the_variable_and_sends_nothing() {
    let mock = MockVendor::start(Protocol::Anthropic, "text")
        .await
        .unwrap();
    let out = concord(
        vec![
            "chat".into(),
            "--provider".into(),
            "anthropic".into(),
            "--model".into(),
            "m".into(),
            "--base-url".into(),
            mock.base_url(),
            "hi".into(),
        ],
        vec![],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ANTHROPIC_API_KEY") && stderr.contains("--api-key"),
        "{stderr}"
    );
    assert!(
        mock.requests().is_empty(),
        "nothing may be sent without a credential"
    );
    assert_eq!(mock.observations().connections(), 0);

    let out = concord(
        vec![
            "chat".into(),
            "--provider".into(),
            "gemini".into(),
            "--model".into(),
            "m".into(),
            "--json".into(),
            "hi".into(),
        ],
        vec![],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let err = stdout_json(&out);
    assert_eq!(err["error"]["kind"], "missing_runtime_context");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("GEMINI_API_KEY"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_can_come_from_the_environment() {
    let mock = MockVendor::start(Protocol::Openai, "text").await.unwrap();
    let args = vec![
        "chat".into(),
        "--provider".into(),
        "openai".into(),
        "--model".into(),
        "m".into(),
        "--base-url".into(),
        mock.base_url(),
        "--json".into(),
        "hi".into(),
    ];
    let out = concord(args, vars(&[("OPENAI_API_KEY", KEY)])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mock.requests()[0].credential(), Some(KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_come_out_retryable_with_their_delay() {
    for (protocol, scenario, ms) in [
        (Protocol::Openai, "error_rate_limited_seconds", 20_000),
        (
            Protocol::OpenaiResponses,
            "error_rate_limited_seconds",
            20_000,
        ),
        (Protocol::Anthropic, "error_rate_limited_ms", 1_500),
        (Protocol::Gemini, "error_rate_limited_retry_info", 34_400),
    ] {
        let mock = MockVendor::start(protocol, scenario).await.unwrap();
        for stream in [false, true] {
            let mut extra = vec!["--json", "--max-retries", "0", "hi"];
            if stream {
                extra.insert(0, "--stream");
            }
            let out = concord(chat_args(&mock, &extra), vec![]).await;
            assert_eq!(out.status.code(), Some(1), "{protocol}");
            let err = &stdout_json(&out)["error"];
            assert_eq!(err["kind"], "rate_limited", "{protocol}: {err}");
            assert_eq!(err["retryable"], true);
            assert_eq!(err["status"], 429);
            assert_eq!(err["retry_after_ms"], ms, "{protocol}: {err}");
            assert_eq!(err["provider"], provider_name(protocol));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_follow_the_policy_and_never_print_the_key() {
    let mock = MockVendor::start(Protocol::Openai, "error_server_error")
        .await
        .unwrap();
    let out = concord(
        chat_args(&mock, &["--max-retries", "2", "hi"]),
        vars(&[("CONCORD_LOG", "trace")]),
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(mock.requests().len(), 3, "one attempt and two retries");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("server_error"), "{all}");
    assert!(
        !all.contains(KEY) && !all.contains("abcdefSECRET"),
        "the key leaked:\n{all}"
    );

    let mock = MockVendor::start(Protocol::Openai, "error_bad_request")
        .await
        .unwrap();
    let out = concord(chat_args(&mock, &["--max-retries", "2", "hi"]), vec![]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(mock.requests().len(), 1, "a 400 is never retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_prints_a_base_url_that_chat_can_use() {
    let (mut child, base) =
        crate::common::start_mock(&["--protocol", "anthropic", "--scenario", "tool_call"]).await;
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let out = concord(
        vec![
            "chat".into(),
            "--provider".into(),
            "anthropic".into(),
            "--model".into(),
            "m".into(),
            "--base-url".into(),
            base,
            "--api-key".into(),
            "k-123456789".into(),
            "--stream".into(),
            "--json".into(),
            "weather?".into(),
        ],
        vec![],
    )
    .await;
    child.kill().unwrap();
    let _ = child.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout_json(&out)["tool_calls"][0]["name"], "get_weather");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_lists_its_scenarios() {
    let out = concord(
        vec![
            "mock".into(),
            "--protocol".into(),
            "gemini".into(),
            "--list".into(),
        ],
        vec![],
    )
    .await;
    assert!(out.status.success());
    let names = String::from_utf8_lossy(&out.stdout);
    assert!(
        names.lines().any(|l| l == "tool_call")
            && names.lines().any(|l| l == "error_rate_limited_retry_info"),
        "{names}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_prompt_or_a_bad_number_is_a_usage_error() {
    let mock = MockVendor::start(Protocol::Openai, "text").await.unwrap();
    let out = concord(chat_args(&mock, &["--json", "   "]), vec![]).await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout_json(&out)["error"]["kind"], "invalid_request");
    let out = concord(
        chat_args(&mock, &["--json", "hi"]),
        vars(&[("CONCORD_MAX_RETRIES", "many")]),
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let err = &stdout_json(&out)["error"];
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("CONCORD_MAX_RETRIES"),
        "{err}"
    );
    assert!(
        mock.requests().is_empty(),
        "nothing is sent on a usage error"
    );
}

/// An unusable --base-url is a usage error (exit 2) saying what a valid one looks like, before
/// anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_base_url_exits_2_with_an_example() {
    for (provider, base, example) in [
        ("openai", "not a url", "https://api.openai.com/v1"),
        (
            "anthropic",
            "ftp://example.com",
            "https://api.anthropic.com",
        ),
        (
            "gemini",
            "http://h/?key=abc",
            "https://generativelanguage.googleapis.com",
        ),
    ] {
        let out = concord(
            vec![
                "chat".into(),
                "--provider".into(),
                provider.into(),
                "--model".into(),
                "m".into(),
                "--base-url".into(),
                base.into(),
                "--api-key".into(),
                KEY.into(),
                "--json".into(),
                "hi".into(),
            ],
            vec![],
        )
        .await;
        assert_eq!(out.status.code(), Some(2), "{provider} {base}");
        let err = stdout_json(&out);
        assert_eq!(err["error"]["kind"], "invalid_config", "{err}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(example), "{message}");
        assert!(
            !message.contains("abc"),
            "the query is not echoed: {message}"
        );
    }
}

/// `--api` picks among the APIs a provider speaks; one it does not speak is a usage error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_the_provider_does_not_speak_exits_2() {
    let out = concord(
        vec![
            "chat".into(),
            "--provider".into(),
            "anthropic".into(),
            "--api".into(),
            "responses".into(),
            "--model".into(),
            "m".into(),
            "--api-key".into(),
            KEY.into(),
            "hi".into(),
        ],
        vec![],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unsupported") && stderr.contains("messages"),
        "{stderr}"
    );
}

/// The CLI reads the descriptor table: every row is a `--provider` value with its description.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_descriptor_row_is_a_provider_value() {
    let out = concord(vec!["chat".into(), "--help".into()], vec![]).await;
    let help = String::from_utf8_lossy(&out.stdout);
    for d in concord::descriptor::DESCRIPTORS {
        assert!(help.contains(d.name), "{} missing from:\n{help}", d.name);
        assert!(help.contains(d.about), "{}'s description missing", d.name);
    }
    for api in concord::Api::ALL {
        assert!(help.contains(api.name()), "--api {} missing", api.name());
    }
}
