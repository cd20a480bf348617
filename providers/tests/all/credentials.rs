//! The credential sources end to end: each against a token endpoint on loopback that checks
//! what it receives (the form fields; for Google, the JWT's signature with the public key), a
//! vendor on loopback that checks the bearer token, concurrent calls sharing one refresh, and
//! refusals that say why without printing a secret.

use std::sync::Arc;

use concord::credentials::{AzureClientCredentials, ServiceAccount, TokenCache};
use concord::{ErrorKind, Provider, Request, RuntimeContext};
use concord_harness::{MockConfig, MockVendor, Protocol};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn form(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.replace('+', " ").into_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() + 1 {
            out.push(
                u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap(), 16).unwrap(),
            );
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} in {form:?}"))
}

async fn token_endpoint(route: &str, token: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(route))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "token_type": "Bearer", "expires_in": 3599, "access_token": token
        })))
        .mount(&server)
        .await;
    server
}

/// Ten concurrent calls through one context (one token cache): one token request.
async fn ten_calls(provider: &concord::HttpProvider, ctx: &RuntimeContext) {
    let request = Request::user("hi");
    let calls = (0..10).map(|_| provider.generate(&request, ctx));
    for reply in futures_util::future::join_all(calls).await {
        assert!(!reply.unwrap().text.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_client_credentials_fetch_one_token_for_many_calls() {
    let tokens = token_endpoint("/tenant-1/oauth2/v2.0/token", "entra-access-token-1").await;
    let vendor = MockVendor::start_with(
        MockConfig::new(Protocol::Openai)
            .expect_key("entra-access-token-1")
            .key_header("authorization"),
    )
    .await
    .unwrap();
    let source = TokenCache::new(
        AzureClientCredentials::new("tenant-1", "client-1", "client-SECRET-value")
            .authority_host(tokens.uri()),
    );
    let ctx = RuntimeContext::new()
        .model("m")
        .base_url(vendor.base_url())
        .credential_source(Arc::new(source))
        .client(reqwest::Client::new());
    let provider = concord::builtin("openai").unwrap();
    ten_calls(&provider, &ctx).await;
    let asked = tokens.received_requests().await.unwrap();
    assert_eq!(asked.len(), 1, "one token request for ten calls");
    let form = form(&asked[0].body);
    assert_eq!(field(&form, "grant_type"), "client_credentials");
    assert_eq!(field(&form, "client_id"), "client-1");
    assert_eq!(field(&form, "client_secret"), "client-SECRET-value");
    assert_eq!(
        field(&form, "scope"),
        "https://cognitiveservices.azure.com/.default"
    );
    assert_eq!(vendor.requests().len(), 10);
    assert!(!format!("{ctx:?}").contains("SECRET"));
}

fn test_key() -> (String, String) {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    let private = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let public = key
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    (private, public)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_signs_a_jwt_the_token_endpoint_can_verify() {
    let tokens = token_endpoint("/token", "gcp-access-token-1").await;
    let token_uri = format!("{}/token", tokens.uri());
    let (private, public) = test_key();
    let file = serde_json::json!({
        "type": "service_account", "project_id": "proj-1", "private_key_id": "kid-1",
        "private_key": private, "client_email": "sa@proj-1.iam.gserviceaccount.com",
        "client_id": "123", "token_uri": token_uri,
    });
    let account = ServiceAccount::from_json("vertex", file.to_string().as_bytes()).unwrap();
    assert!(!format!("{account:?}").contains("PRIVATE KEY"));
    let vendor = MockVendor::start_with(
        MockConfig::new(Protocol::Gemini)
            .expect_key("gcp-access-token-1")
            .key_header("authorization"),
    )
    .await
    .unwrap();
    let ctx = RuntimeContext::new()
        .model("gemini-2.5-flash")
        .base_url(format!(
            "{}/v1/projects/proj-1/locations/us-central1",
            vendor.url()
        ))
        .credential_source(Arc::new(TokenCache::new(account)))
        .client(reqwest::Client::new());
    let provider = concord::builtin("vertex").unwrap();
    ten_calls(&provider, &ctx).await;
    let asked = tokens.received_requests().await.unwrap();
    assert_eq!(asked.len(), 1, "one token request for ten calls");
    let form = form(&asked[0].body);
    assert_eq!(
        field(&form, "grant_type"),
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    #[derive(serde::Deserialize, Debug)]
    struct Claims {
        iss: String,
        scope: String,
        aud: String,
        iat: u64,
        exp: u64,
    }
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[&token_uri]);
    validation.set_issuer(&["sa@proj-1.iam.gserviceaccount.com"]);
    let decoded = jsonwebtoken::decode::<Claims>(
        field(&form, "assertion"),
        &jsonwebtoken::DecodingKey::from_rsa_pem(public.as_bytes()).unwrap(),
        &validation,
    )
    .expect("the assertion verifies with the account's public key");
    assert_eq!(decoded.header.kid.as_deref(), Some("kid-1"));
    assert_eq!(
        decoded.claims.scope,
        "https://www.googleapis.com/auth/cloud-platform"
    );
    assert_eq!(decoded.claims.aud, token_uri);
    assert_eq!(decoded.claims.iss, "sa@proj-1.iam.gserviceaccount.com");
    assert_eq!(decoded.claims.exp - decoded.claims.iat, 3600);
    let sent = &vendor.requests()[0];
    assert!(sent.path.starts_with(
        "/v1/projects/proj-1/locations/us-central1/publishers/google/models/gemini-2.5-flash:"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_token_endpoint_is_an_authentication_error_without_the_secret() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided. client-SECRET-value"
        })))
        .mount(&server)
        .await;
    let vendor = MockVendor::start(Protocol::Openai, "text").await.unwrap();
    let ctx = RuntimeContext::new()
        .model("m")
        .base_url(vendor.base_url())
        .credential_source(Arc::new(TokenCache::new(
            AzureClientCredentials::new("t", "c", "client-SECRET-value")
                .authority_host(server.uri()),
        )))
        .client(reqwest::Client::new());
    let err = concord::builtin("openai")
        .unwrap()
        .generate(&Request::user("hi"), &ctx)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Authentication);
    assert!(err.message.contains("invalid_client"), "{err}");
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("client-SECRET-value"), "{text}");
    }
    assert!(vendor.requests().is_empty(), "nothing reaches the vendor");
}

#[test]
fn a_bad_key_file_says_what_is_wrong_without_printing_it() {
    let err = ServiceAccount::from_json(
        "vertex",
        br#"{"client_email":"x","private_key":"not a key SECRET"}"#,
    )
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidConfig);
    assert!(err.message.contains("private_key"), "{err}");
    assert!(!err.message.contains("SECRET"));
    let err = ServiceAccount::from_json("vertex", b"{}").unwrap_err();
    assert!(err.message.contains("client_email"), "{err}");
}
