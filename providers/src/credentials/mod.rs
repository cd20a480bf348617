//! Credential sources for vendors whose credentials expire: Azure AD / Entra ID client
//! credentials (`azure.rs`) and Google service accounts (`gcp.rs`), each a [`TokenFetcher`]
//! behind a [`TokenCache`] (`cache.rs`). The caller creates the cache and passes it in
//! [`RuntimeContext::credential_source`](crate::RuntimeContext), like the HTTP client; token
//! requests go through the call's client.
//!
//! These are small flows of our own rather than `azure_identity` / `gcp_auth`: each is one form
//! POST (and, for Google, one RS256-signed JWT, signed by `jsonwebtoken`), where those crates
//! pull 110–150 dependencies, their own HTTP stacks and ambient credential discovery that would
//! read the environment behind the caller's back.

mod azure;
mod cache;
mod gcp;

use std::time::{Duration, Instant};

use serde::Deserialize;

pub use azure::{AzureClientCredentials, ClientCredentials};
pub use cache::{AccessToken, TokenCache, TokenFetcher};
pub use gcp::ServiceAccount;

use crate::context::Credential;
use crate::error::{Error, ErrorKind, Result};

/// The answer of an OAuth 2 token endpoint (RFC 6749 §5.1); `expires_in` is a number, or a
/// string from some Microsoft endpoints.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

/// An OAuth error answer (RFC 6749 §5.2).
#[derive(Deserialize, Default)]
struct TokenError {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// POSTs `form` to a token endpoint with the call's client and reads the token. A refusal is an
/// `authentication` error carrying the endpoint's own reason; the secrets in `form` are scrubbed
/// from every message.
async fn request_token(
    provider: &str,
    client: &reqwest::Client,
    endpoint: &str,
    form: &[(&str, &str)],
    secrets: &[&str],
) -> Result<AccessToken> {
    let scrub = |mut e: Error| {
        for s in secrets {
            e = e.scrub(s);
        }
        e
    };
    let body = form
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let started = Instant::now();
    let answer = client
        .post(endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| {
            scrub(Error::new(
                ErrorKind::Transport,
                provider,
                format!("the token endpoint could not be reached: {e}"),
            ))
        })?;
    let status = answer.status().as_u16();
    let bytes = answer.bytes().await.map_err(|e| {
        scrub(Error::new(
            ErrorKind::Transport,
            provider,
            format!("reading the token endpoint's answer failed: {e}"),
        ))
    })?;
    if !(200..300).contains(&status) {
        let why: TokenError = serde_json::from_slice(&bytes).unwrap_or_default();
        let reason = match (why.error, why.error_description) {
            (Some(e), Some(d)) => format!("{e}: {d}"),
            (Some(e), None) => e,
            (None, Some(d)) => d,
            (None, None) => crate::wire::body_snippet(&bytes),
        };
        let kind = if status >= 500 {
            ErrorKind::ServerError
        } else {
            ErrorKind::Authentication
        };
        return Err(scrub(
            Error::new(
                kind,
                provider,
                format!("the token endpoint refused the credential (HTTP {status}): {reason}"),
            )
            .with_status(status),
        ));
    }
    let token: TokenAnswer = serde_json::from_slice(&bytes).map_err(|e| {
        Error::malformed(
            provider,
            format!("the token endpoint's answer does not parse: {e}"),
        )
    })?;
    let expires_in = match &token.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    // A token without a lifetime is used for a conservative hour at most.
    .unwrap_or(3600)
    .min(24 * 3600);
    Ok(AccessToken {
        token: Credential::bearer(token.access_token),
        expires_at: started + Duration::from_secs(expires_in),
    })
}

/// `application/x-www-form-urlencoded` encoding of one key or value.
fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn form_encoding() {
        assert_eq!(
            super::form_encode("https://x/.default a+b"),
            "https%3A%2F%2Fx%2F.default+a%2Bb"
        );
    }
}
