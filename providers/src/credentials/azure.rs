//! Azure AD / Entra ID client credentials (OAuth 2 client-credentials grant): POST
//! `{authority}/{tenant}/oauth2/v2.0/token` with the client id and secret, scope
//! `https://cognitiveservices.azure.com/.default`.

use std::fmt;

use futures_util::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};

use super::cache::{AccessToken, TokenFetcher};
use crate::error::Result;

/// The authority used unless another is given (`AZURE_AUTHORITY_HOST`).
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// The scope of Azure OpenAI / Azure AI tokens.
pub const COGNITIVE_SERVICES_SCOPE: &str = "https://cognitiveservices.azure.com/.default";

/// An Entra ID application's client credentials.
#[derive(Clone)]
pub struct AzureClientCredentials {
    /// The directory (tenant) id.
    pub tenant_id: String,
    /// The application (client) id.
    pub client_id: String,
    client_secret: SecretString,
    /// The authority host, `https://login.microsoftonline.com` unless a sovereign cloud.
    pub authority_host: String,
    /// The scope asked for.
    pub scope: String,
}

impl AzureClientCredentials {
    /// Credentials for the public cloud and Azure OpenAI's scope.
    pub fn new(
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        Self {
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
            authority_host: DEFAULT_AUTHORITY.to_owned(),
            scope: COGNITIVE_SERVICES_SCOPE.to_owned(),
        }
    }

    /// The same credentials at another authority host (`AZURE_AUTHORITY_HOST`).
    pub fn authority_host(mut self, host: impl Into<String>) -> Self {
        self.authority_host = host.into();
        self
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.authority_host.trim_end_matches('/'),
            self.tenant_id
        )
    }
}

impl fmt::Debug for AzureClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureClientCredentials")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .field("authority_host", &self.authority_host)
            .finish()
    }
}

impl TokenFetcher for AzureClientCredentials {
    fn fetch<'a>(
        &'a self,
        provider: &'a str,
        client: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<AccessToken>> {
        Box::pin(async move {
            let secret = self.client_secret.expose_secret();
            let url = self.token_url();
            grant(
                provider,
                client,
                &url,
                &self.client_id,
                secret,
                Some(&self.scope),
            )
            .await
        })
    }
}

/// Any OAuth 2 client-credentials grant: POST `token_url` with the client id and secret (and a
/// scope, when the issuer wants one). An enterprise gateway's tokens, say.
#[derive(Clone)]
pub struct ClientCredentials {
    /// The token endpoint.
    pub token_url: String,
    /// The client id.
    pub client_id: String,
    client_secret: SecretString,
    /// The scope asked for, if any.
    pub scope: Option<String>,
}

impl ClientCredentials {
    /// Credentials for `token_url`.
    pub fn new(
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        scope: Option<String>,
    ) -> Self {
        Self {
            token_url: token_url.into(),
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
            scope,
        }
    }
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .finish()
    }
}

impl TokenFetcher for ClientCredentials {
    fn fetch<'a>(
        &'a self,
        provider: &'a str,
        client: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<AccessToken>> {
        Box::pin(async move {
            let secret = self.client_secret.expose_secret();
            let scope = self.scope.as_deref();
            grant(
                provider,
                client,
                &self.token_url,
                &self.client_id,
                secret,
                scope,
            )
            .await
        })
    }
}

/// The client-credentials grant (RFC 6749 §4.4) both kinds of credentials make.
async fn grant(
    provider: &str,
    client: &reqwest::Client,
    token_url: &str,
    client_id: &str,
    secret: &str,
    scope: Option<&str>,
) -> Result<AccessToken> {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    super::request_token(provider, client, token_url, &form, &[secret]).await
}
