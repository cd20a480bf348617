//! `concord chat` against Azure and Vertex stand-ins on loopback, with credentials from the
//! environment: Entra ID client credentials and a service-account file whose token endpoint is
//! on loopback too. Each process asks the token endpoint once, and the vendor sees the token.

use crate::common::{concord, stdout_json as json};
use concord_harness::{MockConfig, MockVendor, Protocol};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn args(provider: &str, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "chat",
        "--provider",
        provider,
        "--model",
        "my-deployment",
        "--json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a.push("hi".into());
    a
}

async fn token_endpoint(token: &str, status: u16) -> MockServer {
    let server = MockServer::start().await;
    let body = if status == 200 {
        serde_json::json!({"token_type": "Bearer", "expires_in": 3599, "access_token": token})
    } else {
        serde_json::json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."})
    };
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    server
}

fn entra_env(authority: &str, endpoint: &str) -> Vec<(String, String)> {
    [
        ("AZURE_OPENAI_ENDPOINT", endpoint),
        ("AZURE_TENANT_ID", "tenant-1"),
        ("AZURE_CLIENT_ID", "client-1"),
        ("AZURE_CLIENT_SECRET", "client-SECRET-9f8e"),
        ("AZURE_AUTHORITY_HOST", authority),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_with_entra_client_credentials_streams_and_generates() {
    let tokens = token_endpoint("entra-token-abc", 200).await;
    for extra in [&[][..], &["--stream"], &["--api", "responses"]] {
        let protocol = if extra.contains(&"responses") {
            Protocol::OpenaiResponses
        } else {
            Protocol::Openai
        };
        let vendor_for = MockVendor::start_with(
            MockConfig::new(protocol)
                .expect_key("entra-token-abc")
                .key_header("authorization"),
        )
        .await
        .unwrap();
        let before = tokens.received_requests().await.unwrap().len();
        let out = concord(
            args("azure", extra),
            entra_env(&tokens.uri(), &vendor_for.url()),
        )
        .await;
        assert!(
            out.status.success(),
            "{extra:?}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(json(&out)["provider"], "azure");
        let after = tokens.received_requests().await.unwrap().len();
        assert_eq!(after - before, 1, "one token request per process");
        let sent = &vendor_for.requests()[0];
        assert!(
            sent.path.starts_with("/openai/v1/"),
            "the v1 path without an api-version: {}",
            sent.path
        );
        let all = format!("{:?}{}", out, String::from_utf8_lossy(&out.stderr));
        assert!(!all.contains("client-SECRET-9f8e") && !all.contains("entra-token-abc"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_with_a_key_and_an_api_version_takes_the_classic_path() {
    let vendor = MockVendor::start_with(
        MockConfig::new(Protocol::Openai)
            .expect_key("azure-key-12345")
            .key_header("api-key"),
    )
    .await
    .unwrap();
    let out = concord(
        args(
            "azure",
            &[
                "--api-key",
                "azure-key-12345",
                "--api-version",
                "2024-10-21",
                "--base-url",
                &vendor.url(),
            ],
        ),
        vec![],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let sent = &vendor.requests()[0];
    assert_eq!(
        sent.path,
        "/openai/deployments/my-deployment/chat/completions"
    );
    assert_eq!(sent.query.as_deref(), Some("api-version=2024-10-21"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_token_endpoint_is_authentication_and_a_missing_credential_names_every_variable()
{
    let tokens = token_endpoint("", 401).await;
    let vendor = MockVendor::start(Protocol::Openai, "text").await.unwrap();
    let out = concord(args("azure", &[]), entra_env(&tokens.uri(), &vendor.url())).await;
    assert_eq!(out.status.code(), Some(1));
    let err = &json(&out)["error"];
    assert_eq!(err["kind"], "authentication", "{err}");
    assert!(err["message"].as_str().unwrap().contains("invalid_client"));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("client-SECRET-9f8e"));
    assert!(vendor.requests().is_empty());

    let out = concord(
        args("azure", &[]),
        vec![("AZURE_OPENAI_ENDPOINT".into(), vendor.url())],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let message = json(&out)["error"]["message"].as_str().unwrap().to_owned();
    for var in [
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_AD_TOKEN",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
    ] {
        assert!(message.contains(var), "{var}: {message}");
    }
    let out = concord(args("vertex", &["--vertex-project", "p"]), vec![]).await;
    assert_eq!(out.status.code(), Some(2));
    let message = json(&out)["error"]["message"].as_str().unwrap().to_owned();
    for var in ["VERTEX_ACCESS_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS"] {
        assert!(message.contains(var), "{var}: {message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vertex_with_a_service_account_file() {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let tokens = token_endpoint("ya29.vertex-token", 200).await;
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let dir = std::env::temp_dir().join(format!("concord-sa-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sa.json");
    std::fs::write(
        &file,
        serde_json::json!({
            "type": "service_account", "project_id": "proj-from-file", "private_key_id": "k1",
            "private_key": pem, "client_email": "sa@proj-from-file.iam.gserviceaccount.com",
            "token_uri": format!("{}/token", tokens.uri()),
        })
        .to_string(),
    )
    .unwrap();
    let vendor = MockVendor::start_with(
        MockConfig::new(Protocol::Gemini)
            .expect_key("ya29.vertex-token")
            .key_header("authorization"),
    )
    .await
    .unwrap();
    // The base URL is the vendor's, with the project and location path Vertex puts in it.
    let base = format!(
        "{}/v1/projects/proj-from-file/locations/us-central1",
        vendor.url()
    );
    for extra in [
        &["--base-url", base.as_str()][..],
        &["--base-url", base.as_str(), "--stream"],
    ] {
        let out = concord(
            args("vertex", extra),
            vec![(
                "GOOGLE_APPLICATION_CREDENTIALS".into(),
                file.display().to_string(),
            )],
        )
        .await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(json(&out)["provider"], "vertex");
    }
    assert_eq!(
        tokens.received_requests().await.unwrap().len(),
        2,
        "one per process"
    );
    for sent in vendor.requests() {
        assert!(
            sent.path.starts_with("/v1/projects/proj-from-file/locations/us-central1/publishers/google/models/my-deployment:"),
            "{}",
            sent.path
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ai_gateway_is_checked_at_startup_and_carries_the_tenant() {
    let out = concord(
        args("azure", &["--tenant", "u1"]),
        vec![("GENAI_PLATFORM_ENABLED".into(), "true".into())],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let message = json(&out)["error"]["message"].as_str().unwrap().to_owned();
    for var in [
        "GENAI_PLATFORM_BASE_URL",
        "GENAI_PLATFORM_PROJECT",
        "GENAI_PLATFORM_TOKEN",
    ] {
        assert!(message.contains(var), "{var}: {message}");
    }

    let gateway = MockVendor::start_with(
        MockConfig::new(Protocol::Gemini)
            .expect_key("gw-token-77")
            .key_header("authorization"),
    )
    .await
    .unwrap();
    let env: Vec<(String, String)> = [
        ("GENAI_PLATFORM_ENABLED", "true".to_owned()),
        ("GENAI_PLATFORM_BASE_URL", format!("{}/gw", gateway.url())),
        ("GENAI_PLATFORM_PROJECT", "proj-x".to_owned()),
        ("GENAI_PLATFORM_TOKEN", "gw-token-77".to_owned()),
        ("GOOGLE_CLOUD_PROJECT", "gp".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let out = concord(args("vertex", &[]), env.clone()).await;
    assert_eq!(out.status.code(), Some(2), "no --tenant: a usage error");
    let out = concord(args("vertex", &["--tenant", "alice"]), env).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let sent = &gateway.requests()[0];
    assert_eq!(
        sent.path,
        "/gw/v1/projects/gp/locations/global/publishers/google/models/my-deployment:generateContent"
    );
    assert_eq!(sent.header("x-genai-user"), Some("alice"));
    assert_eq!(sent.header("x-genai-project"), Some("proj-x"));
}
