//! Azure and Vertex behind an enterprise AI gateway: the vendor's path under the gateway's base,
//! the gateway's project and user headers, the gateway's token instead of the vendor's auth;
//! the user comes from the call's tenant, and a call without one sends nothing.

use concord::wire::gateway::{self, GatewayToken};
use concord::wire::Gateway;
use concord::{Api, Credential, ErrorKind, Provider, Request};
use concord_harness::{MockConfig, MockVendor, Protocol};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn gateway(mock: &MockVendor) -> Gateway {
    Gateway {
        base_url: format!("{}/genai-gw", mock.url()),
        project: "claims-triage".into(),
        project_header: "x-genai-project".into(),
        user_header: "x-genai-user".into(),
    }
}

// Variables as a lookup, the way the CLI's layered lookup answers them.
use concord::env::lookup_in as vars;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_behind_the_gateway() {
    let mock = MockVendor::start_with(
        MockConfig::new(Protocol::Openai)
            .expect_key("gw-token-1")
            .key_header("authorization"),
    )
    .await
    .unwrap();
    let d = concord::descriptor::get("azure").unwrap();
    let provider = d.provider(Some(Api::Chat)).unwrap().behind(gateway(&mock));
    let ctx = d
        .context_behind_gateway(
            "gpt-4o-deployment",
            reqwest::Client::new(),
            vars(&[("AZURE_OPENAI_ENDPOINT", "https://contoso.openai.azure.com")]),
            GatewayToken::Static(Credential::bearer("gw-token-1")),
            "user-42",
        )
        .unwrap();
    provider.generate(&Request::user("hi"), &ctx).await.unwrap();
    let sent = &mock.requests()[0];
    assert_eq!(sent.path, "/genai-gw/openai/v1/chat/completions");
    assert_eq!(sent.header("x-genai-project"), Some("claims-triage"));
    assert_eq!(sent.header("x-genai-user"), Some("user-42"));
    assert_eq!(sent.header("authorization"), Some("Bearer gw-token-1"));
    assert_eq!(
        sent.header("api-key"),
        None,
        "the gateway's token replaces the vendor's auth"
    );

    // The classic path travels the same way.
    let classic = d
        .context_behind_gateway(
            "gpt-4o-deployment",
            reqwest::Client::new(),
            vars(&[
                ("AZURE_OPENAI_ENDPOINT", "https://contoso.openai.azure.com"),
                ("AZURE_OPENAI_API_VERSION", "2024-10-21"),
            ]),
            GatewayToken::Static(Credential::bearer("gw-token-1")),
            "user-42",
        )
        .unwrap();
    provider
        .generate(&Request::user("hi"), &classic)
        .await
        .unwrap();
    let sent = &mock.requests()[1];
    assert_eq!(
        sent.path,
        "/genai-gw/openai/deployments/gpt-4o-deployment/chat/completions"
    );
    assert_eq!(sent.query.as_deref(), Some("api-version=2024-10-21"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vertex_behind_the_gateway_with_a_client_credentials_token() {
    let tokens = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "gw-issued-token", "expires_in": 600, "token_type": "Bearer"
        })))
        .mount(&tokens)
        .await;
    let mock = MockVendor::start_with(
        MockConfig::new(Protocol::Gemini)
            .expect_key("gw-issued-token")
            .key_header("authorization"),
    )
    .await
    .unwrap();
    let env = [
        ("GENAI_PLATFORM_ENABLED", "true"),
        ("GENAI_PLATFORM_BASE_URL", "http://unused.example"),
        ("GENAI_PLATFORM_PROJECT", "claims-triage"),
        ("GENAI_PLATFORM_TOKEN_URL", "TOKENS"),
        ("GENAI_PLATFORM_CLIENT_ID", "gw-client"),
        ("GENAI_PLATFORM_CLIENT_SECRET", "gw-SECRET"),
        ("GOOGLE_CLOUD_PROJECT", "proj-7"),
        ("GOOGLE_CLOUD_LOCATION", "europe-west4"),
    ];
    let token_url = format!("{}/oauth/token", tokens.uri());
    let env: Vec<(&str, &str)> = env
        .iter()
        .map(|(k, v)| {
            (
                *k,
                if *v == "TOKENS" {
                    token_url.as_str()
                } else {
                    *v
                },
            )
        })
        .collect();
    let (_, token) = gateway::from_vars(&vars(&env)).unwrap().unwrap();
    let d = concord::descriptor::get("vertex").unwrap();
    let provider = d.provider(None).unwrap().behind(gateway(&mock));
    let ctx = d
        .context_behind_gateway(
            "gemini-2.5-flash",
            reqwest::Client::new(),
            vars(&env),
            token,
            "user-7",
        )
        .unwrap();
    for _ in 0..3 {
        provider.generate(&Request::user("hi"), &ctx).await.unwrap();
    }
    let sent = &mock.requests()[0];
    assert_eq!(
        sent.path,
        "/genai-gw/v1/projects/proj-7/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(sent.header("x-genai-user"), Some("user-7"));
    assert_eq!(sent.header("x-genai-project"), Some("claims-triage"));
    assert_eq!(tokens.received_requests().await.unwrap().len(), 1);
    assert!(!format!("{ctx:?}").contains("gw-SECRET"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_without_a_tenant_sends_nothing() {
    let mock = MockVendor::start(Protocol::Openai, "text").await.unwrap();
    let provider = concord::builtin("azure").unwrap().behind(gateway(&mock));
    let ctx = concord::RuntimeContext::new()
        .model("m")
        .credential("gw-token-1")
        .base_url("https://contoso.openai.azure.com")
        .client(reqwest::Client::new());
    let err = provider
        .generate(&Request::user("hi"), &ctx)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::MissingRuntimeContext);
    assert!(err.message.contains("tenant"), "{err}");
    assert!(mock.requests().is_empty());
}
