//! The generic HTTP provider: a wire format, an endpoint and an auth step composed under a name.
//! Every shipped provider is one of these (see `descriptor.rs`); so can yours be.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::Stream;

use crate::capabilities::Capabilities;
use crate::context::{resolve, ResolvedCall, RuntimeContext};
use crate::error::{Error, Result};
use crate::event::EventStream;
use crate::provider::Provider;
use crate::request::Request;
use crate::response::Response;
use crate::wire::send::{read_body, timeout_error, transport_error};
use crate::wire::sse::idle_timeout;
use crate::wire::{
    decode_sse, with_headers, Auth, ByteError, Endpoint, Gateway, WireFormat, WireRequest,
};

/// A provider speaking HTTP: `format` builds bodies and reads answers, `endpoint` says where they
/// go, `auth` how the credential travels. A plain value: it holds no credential, client or model.
///
/// ```
/// use concord::wire::{Auth, Endpoint};
/// use concord::{Capabilities, HttpProvider};
///
/// // A vendor that speaks Chat Completions under `/api` and wants its key in `x-acme-key`.
/// let acme = HttpProvider::new(
///     "acme",
///     concord::openai::ChatCompletions::compatible(),
///     Endpoint::Custom { base_path: "", prefix: "/api" },
///     Auth::Header("x-acme-key"),
/// );
/// # let _ = acme;
/// ```
#[derive(Debug, Clone)]
pub struct HttpProvider {
    name: Cow<'static, str>,
    format: Arc<dyn WireFormat>,
    endpoint: Endpoint,
    auth: Auth,
    capabilities: Capabilities,
    gateway: Option<Gateway>,
}

impl HttpProvider {
    /// `format` at `endpoint` with `auth`, named `name` in errors and reports, declaring every
    /// capability the format has (narrow them with [`HttpProvider::with_capabilities`]).
    pub fn new(
        name: impl Into<Cow<'static, str>>,
        format: impl WireFormat + 'static,
        endpoint: Endpoint,
        auth: Auth,
    ) -> Self {
        Self::from_parts(name, Arc::new(format), endpoint, auth)
    }

    /// [`HttpProvider::new`] with a format already shared (the descriptor table builds them).
    pub fn from_parts(
        name: impl Into<Cow<'static, str>>,
        format: Arc<dyn WireFormat>,
        endpoint: Endpoint,
        auth: Auth,
    ) -> Self {
        let capabilities = Capabilities {
            assistant_prefill: format.continues_assistant_turn(),
            ..Capabilities::ALL
        };
        Self {
            name: name.into(),
            format,
            endpoint,
            auth,
            capabilities,
            gateway: None,
        }
    }

    /// The same provider behind an enterprise AI gateway: the vendor's bodies and paths, sent to
    /// the gateway with its project and user headers, the call's credential going as the
    /// gateway's bearer token instead of the vendor's auth (vendor headers the gateway forwards
    /// can ride in the context's extra headers). The user is the call's tenant.
    pub fn behind(mut self, gateway: Gateway) -> Self {
        self.gateway = Some(gateway);
        self
    }

    /// The same provider declaring `capabilities` (for servers that lack some).
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// The wire format.
    pub fn format(&self) -> &dyn WireFormat {
        self.format.as_ref()
    }

    /// The endpoint.
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }

    /// The auth step.
    pub fn auth(&self) -> Auth {
        self.auth
    }

    /// The request for a resolved call, before the auth step. Nothing is sent.
    pub fn encode(
        &self,
        call: &ResolvedCall<'_>,
        request: &Request,
        stream: bool,
    ) -> Result<WireRequest> {
        let encoded = self.format.encode(call, request, stream)?;
        Ok(WireRequest {
            url: self.endpoint.url(
                call.base_url,
                call.model,
                call.api_version,
                &encoded.operation,
            ),
            headers: encoded.headers,
            body: encoded.body,
        })
    }

    /// Parses a non-streamed answer body.
    pub fn decode_response(&self, body: &[u8]) -> Result<Response> {
        self.format.decode_response(&self.name, body)
    }

    /// Decodes a raw SSE byte stream into normalised events (tests, benchmarks, other
    /// transports).
    pub fn decode_stream<S, E>(&self, bytes: S) -> EventStream
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Send + 'static,
        E: Into<ByteError> + Send + 'static,
    {
        decode_sse(
            self.name.to_string(),
            bytes,
            self.format.stream_decoder(&self.name),
            None,
        )
    }

    /// Sends `request` and returns the 2xx answer; anything else becomes an error. The
    /// credential is fetched here (a source may refresh it) and scrubbed from every message.
    async fn send(
        &self,
        call: &ResolvedCall<'_>,
        request: &Request,
        stream: bool,
    ) -> Result<(reqwest::Response, String)> {
        let mut wire = self.encode(call, request, stream)?;
        let mut auth = self.auth;
        if let Some(gateway) = &self.gateway {
            wire.url = gateway.url(&wire.url);
            wire.headers.extend(gateway.headers(call)?);
            auth = Auth::Bearer;
        }
        let credential = call.credential.get(&self.name, call.client).await?;
        let secret = credential.expose().to_owned();
        let (auth_name, auth_value) = auth.header(&credential);
        let mut builder = call
            .client
            .post(&wire.url)
            .header(auth_name, auth_value)
            .header("content-type", "application/json");
        for (name, value) in wire.headers.iter().chain(call.headers.iter()) {
            builder = builder.header(name, value);
        }
        tracing::debug!(
            provider = %self.name,
            url = %crate::wire::send::redact_url(&wire.url),
            bytes = wire.body.len(),
            "sending"
        );
        let send = builder.body(wire.body).send();
        let sent = match call.timeout {
            Some(limit) => tokio::time::timeout(limit, send)
                .await
                .map_err(|_| timeout_error(&self.name, limit))?,
            None => send.await,
        };
        let response = sent.map_err(|e| transport_error(&self.name, &e).scrub(&secret))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok((response, secret));
        }
        let headers = response.headers().clone();
        let body = read_body(&self.name, response, call.timeout)
            .await
            .unwrap_or_default();
        let err = self.format.decode_error(&self.name, status, &body);
        Err(with_headers(err, &headers)
            .with_status(status)
            .scrub(&secret))
    }

    fn resolve<'a>(
        &'a self,
        request: &Request,
        ctx: &'a RuntimeContext,
        stream: bool,
    ) -> Result<ResolvedCall<'a>> {
        resolve(&self.name, &self.capabilities, request, ctx, stream)
    }
}

impl Provider for HttpProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    fn generate<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, Result<Response>> {
        Box::pin(async move {
            let call = self.resolve(request, ctx, false)?;
            let (response, secret) = self.send(&call, request, false).await?;
            let body = read_body(&self.name, response, call.timeout)
                .await
                .map_err(|e| e.scrub(&secret))?;
            self.decode_response(&body)
                .map_err(|e: Error| e.scrub(&secret))
        })
    }

    fn stream<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, Result<EventStream>> {
        Box::pin(async move {
            let call = self.resolve(request, ctx, true)?;
            let (response, secret) = self.send(&call, request, true).await?;
            let bytes = idle_timeout(response.bytes_stream(), call.timeout);
            Ok(decode_sse(
                self.name.to_string(),
                bytes,
                self.format.stream_decoder(&self.name),
                Some(secret),
            ))
        })
    }
}
