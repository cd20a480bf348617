//! The call-scoped runtime context (contract B6) and its resolution into a [`ResolvedCall`].
//!
//! Providers hold no state: everything a call needs arrives here, with the call, and is checked
//! before anything is sent. There is no global, default or environment fallback in this module.

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::capabilities::Capabilities;
use crate::error::{Error, Result};
use crate::request::{ContentPart, Message, Parameters, Request};

/// A credential (API key or bearer token). It never prints: `Debug` shows `[REDACTED]` and there is
/// no `Display`.
#[derive(Clone)]
pub struct Credential(SecretString);

impl Credential {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(SecretString::from(secret.into()))
    }

    /// The secret, for the one place that puts it on the wire (and for scrubbing messages).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
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
    /// The vendor credential.
    pub credential: Option<Credential>,
    /// The vendor base URL (for OpenAI with `/v1`; for Anthropic and Gemini the host root).
    pub base_url: Option<String>,
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

    /// Sets the base URL.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
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
            .field("base_url", &self.base_url)
            .field("headers", &header_names)
            .field("settings", &self.settings)
            .field("timeout", &self.timeout)
            .field("client", &self.client.as_ref().map(|_| "reqwest::Client"))
            .field("tenant", &self.tenant)
            .finish()
    }
}

/// A call with every piece of its context present and its parameters merged: the output of
/// [`resolve`], the input of an adapter's encoder.
#[derive(Clone)]
pub struct ResolvedCall<'a> {
    /// The provider name.
    pub provider: &'a str,
    /// The model.
    pub model: &'a str,
    /// The credential.
    pub credential: &'a Credential,
    /// The base URL without a trailing `/`.
    pub base_url: &'a str,
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
    let credential = ctx
        .credential
        .as_ref()
        .filter(|c| !c.expose().is_empty())
        .ok_or_else(|| {
            Error::missing_context(provider, "credential", "set RuntimeContext::credential")
        })?;
    let base_url = ctx
        .base_url
        .as_deref()
        .map(|u| u.trim_end_matches('/'))
        .filter(|u| !u.is_empty())
        .ok_or_else(|| {
            Error::missing_context(provider, "base_url", "set RuntimeContext::base_url")
        })?;
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
        headers: &ctx.headers,
        params: request.params.or(&ctx.settings),
        timeout: ctx.timeout,
        client,
        tenant: ctx.tenant.as_deref(),
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
