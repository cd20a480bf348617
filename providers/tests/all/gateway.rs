//! Azure and Vertex behind an enterprise AI gateway: the vendor's path under the gateway's base,
//! the gateway's project and user headers, the gateway's token instead of the vendor's auth;
//! the user comes from the call's tenant, and a call without one sends nothing.

use concord::descriptor::Connection;
use concord::wire::Gateway;
use concord::{Api, ErrorKind, Provider, Request, RuntimeContext};
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

/// The gateway's variables for `mock`, with a static token.
fn gateway_vars(mock: &MockVendor) -> Vec<(String, String)> {
    [
        ("GENAI_PLATFORM_ENABLED", "true".to_owned()),
        (
            "GENAI_PLATFORM_BASE_URL",
            format!("{}/genai-gw", mock.url()),
        ),
        ("GENAI_PLATFORM_PROJECT", "claims-triage".into()),
        ("GENAI_PLATFORM_TOKEN", "gw-token-1".into()),
    ]
    .map(|(k, v)| (k.to_owned(), v))
    .to_vec()
}

/// The provider and context the one build path gives for `name` with `env`, its model and
/// the calling user set.
fn connect(
    name: &str,
    api: Option<Api>,
    env: &[(String, String)],
    model: &str,
    user: &str,
) -> (concord::HttpProvider, RuntimeContext) {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let d = concord::descriptor::get(name).unwrap();
    let mut c = Connection::from_vars(d, &vars(&pairs)).unwrap();
    c.api = api;
    let (provider, ctx) = d.connect(&c, reqwest::Client::new()).unwrap();
    (provider, ctx.model(model).tenant(user))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_behind_the_gateway() {
    let mock = MockVendor::start_with(
        MockConfig::new(Protocol::Openai)
            .expect_key("gw-token-1")
            .key_header("authorization"),
    )
    .await
    .unwrap();
    let mut env = gateway_vars(&mock);
    env.push((
        "AZURE_OPENAI_ENDPOINT".into(),
        "https://contoso.openai.azure.com".into(),
    ));
    let (provider, ctx) = connect(
        "azure",
        Some(Api::Chat),
        &env,
        "gpt-4o-deployment",
        "user-42",
    );
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
    env.push(("AZURE_OPENAI_API_VERSION".into(), "2024-10-21".into()));
    let (provider, classic) = connect(
        "azure",
        Some(Api::Chat),
        &env,
        "gpt-4o-deployment",
        "user-42",
    );
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
    let mut env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.retain(|(k, _)| k != "GENAI_PLATFORM_BASE_URL");
    env.push((
        "GENAI_PLATFORM_BASE_URL".into(),
        format!("{}/genai-gw", mock.url()),
    ));
    let (provider, ctx) = connect("vertex", None, &env, "gemini-2.5-flash", "user-7");
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
