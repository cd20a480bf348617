//! Google service accounts (OAuth 2 JWT bearer grant, RFC 7523): a JWT signed RS256 with the
//! account's private key, exchanged at its `token_uri` for an access token with the
//! `cloud-platform` scope.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::cache::{AccessToken, TokenFetcher};
use crate::error::{Error, ErrorKind, Result};

/// The scope Vertex AI needs.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The JWT bearer grant type.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// A service account, as in its JSON key file (`GOOGLE_APPLICATION_CREDENTIALS`).
#[derive(Clone, Deserialize)]
pub struct ServiceAccount {
    /// The account's e-mail: the JWT's issuer.
    pub client_email: String,
    /// Which key signed (the JWT header's `kid`).
    #[serde(default)]
    pub private_key_id: Option<String>,
    #[serde(deserialize_with = "secret")]
    private_key: SecretString,
    /// Where tokens are issued.
    #[serde(default = "default_token_uri")]
    pub token_uri: String,
    /// The project the account belongs to (Vertex's default project).
    #[serde(default)]
    pub project_id: Option<String>,
    /// The scope asked for.
    #[serde(default = "default_scope")]
    pub scope: String,
}

fn secret<'de, D: serde::Deserializer<'de>>(de: D) -> std::result::Result<SecretString, D::Error> {
    String::deserialize(de).map(SecretString::from)
}

fn default_token_uri() -> String {
    "https://oauth2.googleapis.com/token".to_owned()
}

fn default_scope() -> String {
    CLOUD_PLATFORM_SCOPE.to_owned()
}

impl fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("private_key", &"[REDACTED]")
            .field("token_uri", &self.token_uri)
            .field("project_id", &self.project_id)
            .finish()
    }
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

impl ServiceAccount {
    /// Reads a key file's JSON. The error names the file's problem, never its content.
    pub fn from_json(provider: &str, json: &[u8]) -> Result<Self> {
        let account: Self = serde_json::from_slice(json).map_err(|e| {
            Error::new(
                ErrorKind::InvalidConfig,
                provider,
                format!(
                    "the service-account file is not a Google key file (line {}, column {}): it needs \
                     client_email, private_key and token_uri",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        // Signing keys are checked now, so a bad file fails at startup, not at the first call.
        jsonwebtoken::EncodingKey::from_rsa_pem(account.private_key.expose_secret().as_bytes())
            .map_err(|_| {
                Error::new(
                    ErrorKind::InvalidConfig,
                    provider,
                    "the service-account file's private_key is not an RSA key in PEM",
                )
            })?;
        Ok(account)
    }

    /// Reads a key file.
    pub fn from_file(provider: &str, path: &std::path::Path) -> Result<Self> {
        let json = std::fs::read(path).map_err(|e| {
            Error::new(
                ErrorKind::InvalidConfig,
                provider,
                format!(
                    "cannot read the service-account file {}: {e}",
                    path.display()
                ),
            )
        })?;
        Self::from_json(provider, &json)
    }

    /// The signed assertion for one token request, valid an hour from `now` (Unix seconds).
    pub fn assertion(&self, provider: &str, now: u64) -> Result<String> {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = self.private_key_id.clone();
        let claims = Claims {
            iss: &self.client_email,
            scope: &self.scope,
            aud: &self.token_uri,
            iat: now,
            exp: now + 3600,
        };
        let key =
            jsonwebtoken::EncodingKey::from_rsa_pem(self.private_key.expose_secret().as_bytes())
                .map_err(|_| {
                    Error::new(
                        ErrorKind::InvalidConfig,
                        provider,
                        "the service-account private_key is not an RSA key in PEM",
                    )
                })?;
        jsonwebtoken::encode(&header, &claims, &key).map_err(|e| {
            Error::new(
                ErrorKind::InvalidConfig,
                provider,
                format!("signing the service-account assertion failed: {e}"),
            )
        })
    }
}

impl TokenFetcher for ServiceAccount {
    fn fetch<'a>(
        &'a self,
        provider: &'a str,
        client: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<AccessToken>> {
        Box::pin(async move {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let assertion = self.assertion(provider, now)?;
            super::request_token(
                provider,
                client,
                &self.token_uri,
                &[("grant_type", JWT_BEARER_GRANT), ("assertion", &assertion)],
                &[&assertion],
            )
            .await
        })
    }
}
