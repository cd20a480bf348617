//! The call-scoped runtime context (contract B6) and its resolution into a [`ResolvedCall`].
//!
//! Providers hold no state: everything a call needs arrives here, with the call, and is checked
//! before anything is sent. There is no global, default or environment fallback in this module.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::capabilities::Capabilities;
use crate::error::{Error, Result};
use crate::request::{ContentPart, Message, Parameters, Request};
use crate::wire::CredentialSource;

/// A credential: an API key or a bearer token. It never prints: `Debug` shows `[REDACTED]` and
/// there is no `Display`.
#[derive(Clone)]
pub struct Credential {
    secret: SecretString,
    kind: CredentialKind,
}

/// What a credential is, which decides how the auth step sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// A vendor API key, sent the vendor's way ([`Auth`](crate::wire::Auth)).
    ApiKey,
    /// An OAuth / Entra ID access token, always `Authorization: Bearer`.
    BearerToken,
}

impl Credential {
    /// An API key.
    pub fn new(secret: impl Into<String>) -> Self {
        Self {
            secret: SecretString::from(secret.into()),
            kind: CredentialKind::ApiKey,
        }
    }

    /// A bearer token (OAuth, Entra ID).
    pub fn bearer(token: impl Into<String>) -> Self {
        Self {
            secret: SecretString::from(token.into()),
            kind: CredentialKind::BearerToken,
        }
    }

    /// What it is.
    pub fn kind(&self) -> CredentialKind {
        self.kind
    }

    /// The secret, for the one place that puts it on the wire (and for scrubbing messages).
    pub fn expose(&self) -> &str {
        self.secret.expose_secret()
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credential([REDACTED])")
    }
}

/// Everything one call runs with. Build it per runtime (per tenant, per user) and pass it to every
/// call; clone it freely (the client inside is a shared pool).
#[derive(Clone, Default)]
pub struct RuntimeContext {
    /// The model to call.
    pub model: Option<String>,
    /// The vendor credential (a static key or token).
    pub credential: Option<Credential>,
    /// Where credentials come from when they expire (an OAuth token cache the caller owns);
    /// asked once per call, used when `credential` is unset.
    pub credential_source: Option<Arc<dyn CredentialSource>>,
    /// The vendor base URL (for OpenAI with `/v1`; for Anthropic and Gemini the host root).
    pub base_url: Option<String>,
    /// The API version for endpoints that take one in the query (Azure's classic deployment
    /// API); `None` for the rest.
    pub api_version: Option<String>,
    /// Extra headers sent with every request (OpenRouter `HTTP-Referer`, `anthropic-beta`, …).
    /// Values are treated as secret: `Debug` prints names only.
    pub headers: Vec<(String, String)>,
    /// Parameter defaults, used where the request leaves a parameter unset.
    pub settings: Parameters,
    /// The longest a call may wait for the vendor (for streams: for headers and between chunks).
    pub timeout: Option<Duration>,
    /// The shared HTTP client. The provider borrows it for the call and never keeps it.
    pub client: Option<reqwest::Client>,
    /// Who the call runs for, for logs and isolation checks.
    pub tenant: Option<String>,
}

impl RuntimeContext {
    /// An empty context; fill it with the builder methods.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the model.
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Sets the credential.
    pub fn credential(mut self, credential: impl Into<String>) -> Self {
        self.credential = Some(Credential::new(credential));
        self
    }

    /// Sets a credential source (used when no static credential is set).
    pub fn credential_source(mut self, source: Arc<dyn CredentialSource>) -> Self {
        self.credential_source = Some(source);
        self
    }

    /// Sets the base URL.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Sets the api-version (Azure's classic deployment API).
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = Some(version.into());
        self
    }

    /// Adds an extra header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the parameter defaults.
    pub fn settings(mut self, settings: Parameters) -> Self {
        self.settings = settings;
        self
    }

    /// Sets the timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the HTTP client.
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Sets the tenant.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }
}

impl fmt::Debug for RuntimeContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("RuntimeContext")
            .field("model", &self.model)
            .field("credential", &self.credential)
            .field("credential_source", &self.credential_source)
            .field("base_url", &self.base_url)
            .field("api_version", &self.api_version)
            .field("headers", &header_names)
            .field("settings", &self.settings)
            .field("timeout", &self.timeout)
            .field("client", &self.client.as_ref().map(|_| "reqwest::Client"))
            .field("tenant", &self.tenant)
            .finish()
    }
}

/// Where a resolved call's credential comes from.
#[derive(Clone)]
pub enum CallCredential<'a> {
    /// A static key or token from the context.
    Static(&'a Credential),
    /// A source asked at send time.
    Source(&'a Arc<dyn CredentialSource>),
}

impl fmt::Debug for CallCredential<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Static(c) => c.fmt(f),
            Self::Source(s) => s.fmt(f),
        }
    }
}

impl CallCredential<'_> {
    /// The credential for this call (a source may fetch or refresh one).
    pub async fn get(&self, provider: &str, client: &reqwest::Client) -> Result<Credential> {
        match self {
            Self::Static(c) => Ok((*c).clone()),
            Self::Source(source) => source.credential(provider, client).await,
        }
    }
}

/// A call with every piece of its context present and its parameters merged: the output of
/// [`resolve`], the input of a wire format's encoder.
#[derive(Clone)]
pub struct ResolvedCall<'a> {
    /// The provider name.
    pub provider: &'a str,
    /// The model.
    pub model: &'a str,
    /// The credential, or where to get it.
    pub credential: CallCredential<'a>,
    /// The base URL without a trailing `/`.
    pub base_url: &'a str,
    /// The api-version, for endpoints that take one.
    pub api_version: Option<&'a str>,
    /// Extra headers.
    pub headers: &'a [(String, String)],
    /// Request parameters over the context's defaults.
    pub params: Parameters,
    /// The timeout, if any.
    pub timeout: Option<Duration>,
    /// The client to send with.
    pub client: &'a reqwest::Client,
    /// The tenant, if any.
    pub tenant: Option<&'a str>,
}

impl fmt::Debug for ResolvedCall<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Extra headers may carry secrets too: names only.
        let header_names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("ResolvedCall")
            .field("provider", &self.provider)
            .field("model", &self.model)
            .field("credential", &self.credential)
            .field("base_url", &self.base_url)
            .field("api_version", &self.api_version)
            .field("headers", &header_names)
            .field("params", &self.params)
            .field("timeout", &self.timeout)
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

/// Checks `request` against the provider's capabilities and `ctx` for completeness, before
/// anything is sent: the first missing field gives `missing_runtime_context` naming it, the first
/// missing capability gives `unsupported`.
pub fn resolve<'a>(
    provider: &'a str,
    caps: &Capabilities,
    request: &Request,
    ctx: &'a RuntimeContext,
    stream: bool,
) -> Result<ResolvedCall<'a>> {
    caps.check(provider, request, stream)?;
    let model = ctx
        .model
        .as_deref()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| Error::missing_context(provider, "model", "set RuntimeContext::model"))?;
    let credential = match (&ctx.credential, &ctx.credential_source) {
        (Some(c), _) if !c.expose().is_empty() => CallCredential::Static(c),
        (None, Some(source)) => CallCredential::Source(source),
        _ => {
            return Err(Error::missing_context(
                provider,
                "credential",
                "set RuntimeContext::credential or RuntimeContext::credential_source",
            ))
        }
    };
    let base_url = ctx
        .base_url
        .as_deref()
        .map(|u| u.trim().trim_end_matches('/'))
        .filter(|u| !u.is_empty())
        .ok_or_else(|| {
            Error::missing_context(provider, "base_url", "set RuntimeContext::base_url")
        })?;
    usable_base_url(provider, base_url)?;
    let client = ctx.client.as_ref().ok_or_else(|| {
        Error::missing_context(
            provider,
            "client",
            "pass a shared reqwest::Client in RuntimeContext::client",
        )
    })?;
    if request.messages.is_empty() {
        return Err(Error::new(
            crate::ErrorKind::InvalidRequest,
            provider,
            "the request has no messages",
        ));
    }
    Ok(ResolvedCall {
        provider,
        model,
        credential,
        base_url,
        api_version: ctx.api_version.as_deref(),
        headers: &ctx.headers,
        params: request.params.or(&ctx.settings),
        timeout: ctx.timeout,
        client,
        tenant: ctx.tenant.as_deref(),
    })
}

/// The one rule for a base URL, wherever one is given (a context, a flag, a variable, a config
/// file): an absolute http(s) URL with a host and no query or fragment (the endpoint appends
/// paths and queries to it). `Err` says what is wrong with it.
pub fn check_base_url(base: &str) -> std::result::Result<(), String> {
    match reqwest::Url::parse(base.trim()) {
        Err(e) => Err(e.to_string()),
        Ok(url) if !matches!(url.scheme(), "http" | "https") => Err(format!(
            "the scheme is `{}`, not http or https",
            url.scheme()
        )),
        Ok(url) if url.host_str().is_none_or(str::is_empty) => Err("it has no host".to_owned()),
        Ok(url) if url.query().is_some() || url.fragment().is_some() => {
            Err("it has a query or fragment".to_owned())
        }
        Ok(_) => Ok(()),
    }
}

/// `invalid_config` unless the context's base URL passes [`check_base_url`].
fn usable_base_url(provider: &str, base: &str) -> Result<()> {
    check_base_url(base).map_err(|why| {
        // The URL is the caller's setting; printing it is fine (keys belong in credentials),
        // but anything after `?` is dropped in case someone put one there anyway.
        crate::Error::new(
            crate::ErrorKind::InvalidConfig,
            provider,
            format!(
                "the runtime context's base_url `{}` is not a usable base URL ({why}); \
                 give an absolute http(s) URL such as https://api.example.com/v1",
                base.split('?').next().unwrap_or_default()
            ),
        )
    })
}

/// Whether any user message carries an image.
pub(crate) fn has_image(request: &Request) -> bool {
    request.messages.iter().any(|m| match m {
        Message::User { content } => content
            .iter()
            .any(|p| matches!(p, ContentPart::Image { .. })),
        _ => false,
    })
}
