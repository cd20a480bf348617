//! The doors a client comes in by. Each reads its format's request into concord's `Request`
//! (the codecs are `concord::openai::serve` and `concord::anthropic::serve`, beside the client
//! side they mirror), routes it, calls through the model database's metering, and answers in
//! its own format — whatever vendor answered. What they share is here: who is calling, and
//! an error in the door's shape with `Retry-After`.

pub mod anthropic;
pub mod openai;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use concord::{Error, ErrorKind, EventStream, RuntimeContext, StreamEvent};
use concord_models::Metered;
use futures_util::StreamExt;

use crate::route::{route, Route};
use crate::tenants::{Auth, Tenant};
use crate::Server;

/// A response with a JSON body.
pub(crate) fn json(status: u16, body: &serde_json::Value) -> Response {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// `Retry-After` in whole seconds, rounded up (a client waiting less would be refused again).
pub(crate) fn retry_after(after: Duration) -> HeaderValue {
    let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
    HeaderValue::from(secs.max(1))
}

/// Who holds the key a request presents: `Err` is the error to answer with.
pub(crate) fn caller(
    tenants: &crate::tenants::Tenants,
    key: Option<&str>,
) -> Result<Arc<Tenant>, Error> {
    let key = key.filter(|k| !k.is_empty()).ok_or_else(|| {
        Error::new(
            ErrorKind::Authentication,
            "concord",
            "no API key: send one as `Authorization: Bearer <key>` (a tenant's key, from `concord tenants create`)",
        )
    })?;
    match tenants.authenticate(key) {
        Auth::Tenant(t) => Ok(t),
        Auth::Disabled(name) => Err(Error::new(
            ErrorKind::PermissionDenied,
            "concord",
            format!("the tenant {name} is disabled"),
        )),
        // The key is not echoed: it may be a real secret sent to the wrong place.
        Auth::Unknown => Err(Error::new(
            ErrorKind::Authentication,
            "concord",
            "the API key is not valid here",
        )),
    }
}

/// The bearer token of `Authorization`.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Adds the headers an error carries. When it says when to come back: `Retry-After` in whole
/// seconds, and `retry-after-ms` with the exact wait (OpenAI's header, which the official
/// OpenAI and Anthropic SDKs read first).
///
/// `x-should-retry` says whether the call may be repeated (both vendors' header, which their
/// SDKs obey), so a vendor's "do not retry" reaches the caller.
pub(crate) fn with_retry_after(mut r: Response, e: &Error) -> Response {
    r.headers_mut().insert(
        "x-should-retry",
        HeaderValue::from_static(if e.retryable { "true" } else { "false" }),
    );
    if let Some(after) = e.retry_after {
        r.headers_mut()
            .insert(http::header::RETRY_AFTER, retry_after(after));
        let ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX).max(1);
        r.headers_mut()
            .insert("retry-after-ms", HeaderValue::from(ms));
    }
    r
}

/// The status an error answers with: the vendor's, when a vendor answered with an error
/// status (a caller behind the server sees what it would have seen calling the vendor), else
/// the door's for the error's kind.
pub(crate) fn status_of(e: &Error, door: u16) -> u16 {
    match e.status {
        Some(s) if e.provider != "concord" && (400..600).contains(&s) => s,
        _ => door,
    }
}

/// The key of `x-api-key` (Anthropic's clients), else of `Authorization: Bearer`.
pub(crate) fn api_key(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .or_else(|| bearer(headers))
}

/// A call ready to make: where it goes, its context, and the provider behind the model
/// database's metering (which records it however it ends) and, for a tenant with a budget,
/// the budget's reservation inside that (so a refusal is recorded too). With fallback targets
/// configured for its model (`[server] fallbacks`), each target is metered the same way and
/// tried in turn.
pub(crate) struct Call {
    /// Where it was routed first.
    pub route: Route,
    pub ctx: RuntimeContext,
    pub provider: Box<dyn concord::Provider>,
    /// How long the providers' `generate` took, in microseconds, every attempt together.
    pub upstream: Arc<AtomicU64>,
    /// Every route it may take, first the one it was routed to, and which one answered.
    routes: Vec<Route>,
    answered: Arc<AtomicUsize>,
}

impl Call {
    /// The route that answered (the first, until one has).
    pub fn served(&self) -> &Route {
        let i = self.answered.load(Ordering::Relaxed);
        self.routes.get(i).unwrap_or(&self.route)
    }
}

/// Routes `request` of `tenant` naming `model` (or none: then the user's `runtime`'s, if the
/// call named a user who has one), whose body is `body_bytes` long, once the tenant's own rate
/// limits admit it. The runtime's parameters fill what the request leaves unset.
pub(crate) async fn prepare(
    server: &Arc<Server>,
    tenant: &Tenant,
    model: Option<&str>,
    runtime: Option<&concord_registry::UserRuntime>,
    request: &concord::Request,
    body_bytes: usize,
) -> Result<Call, Error> {
    if let Err(refusal) = server.tenants.rate_limits().admit(tenant).await {
        let (after, what) = match refusal {
            crate::limits::Refusal::Requests(after) => (
                after,
                format!("{} requests a minute", tenant.rpm.unwrap_or(0)),
            ),
            crate::limits::Refusal::Tokens(after) => (
                after,
                format!("{} tokens a minute", tenant.tpm.unwrap_or(0)),
            ),
        };
        return Err(Error::new(
            ErrorKind::RateLimited,
            "concord",
            format!(
                "the tenant {} is over its {what}: try again in {:.1} s",
                tenant.name,
                after.as_secs_f64()
            ),
        )
        .with_retry_after(Some(after)));
    }
    let runtime_model = runtime.map(|rt| format!("{}/{}", rt.provider, rt.model));
    let model = model.filter(|m| !m.is_empty()).or(runtime_model.as_deref());
    let first = route(
        &server.registry,
        &server.models,
        model,
        tenant.default_model.as_deref(),
    )?;
    let with_runtime = |mut ctx: RuntimeContext| {
        if let Some(rt) = runtime {
            ctx.settings = rt.settings.or(&ctx.settings);
        }
        ctx
    };
    let ctx = with_runtime(first.context(&server.models, &tenant.name));
    let upstream = Arc::new(AtomicU64::new(0));
    let primary = attempt(server, tenant, &first, &ctx, request, body_bytes, &upstream)?;
    // The key is only written out when there are fallbacks to look it up in.
    let key =
        (!server.settings.fallbacks.is_empty()).then(|| format!("{}/{}", first.name, first.model));
    let Some((key, targets)) = key.and_then(|k| {
        let targets = server.settings.fallbacks.get(&k)?;
        Some((k, targets))
    }) else {
        return Ok(Call {
            routes: vec![first.clone()],
            route: first,
            ctx,
            provider: Box::new(primary),
            upstream,
            answered: Arc::default(),
        });
    };
    let answered = Arc::new(AtomicUsize::new(0));
    let mut routes = vec![first.clone()];
    let mut chain = vec![concord_dispatch::Target {
        provider: Arc::new(Marked {
            inner: primary,
            index: 0,
            answered: answered.clone(),
        }),
        ctx: ctx.clone(),
    }];
    for target in targets {
        // A target that is not registered now is left out, said once per call.
        let next = match route(&server.registry, &server.models, Some(target), None) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(model = %key, target = %target, error = %e, "a fallback target is not available");
                continue;
            }
        };
        let next_ctx = with_runtime(next.context(&server.models, &tenant.name));
        let metered = attempt(
            server, tenant, &next, &next_ctx, request, body_bytes, &upstream,
        )?;
        chain.push(concord_dispatch::Target {
            provider: Arc::new(Marked {
                inner: metered,
                index: routes.len(),
                answered: answered.clone(),
            }),
            ctx: next_ctx,
        });
        routes.push(next);
    }
    let fallback = concord_dispatch::Fallback::new(chain)
        .map_err(|e| Error::new(ErrorKind::InvalidConfig, "concord", e.to_string()))?;
    Ok(Call {
        provider: Box::new(Chain {
            fallback,
            name: first.name.clone(),
            caps: concord::Provider::capabilities(&first.provider),
        }),
        route: first,
        ctx,
        upstream,
        routes,
        answered,
    })
}

/// One route's provider: timed, held to the tenant's budget when it has one, metered.
fn attempt(
    server: &Arc<Server>,
    tenant: &Tenant,
    route: &Route,
    ctx: &RuntimeContext,
    request: &concord::Request,
    body_bytes: usize,
    upstream: &Arc<AtomicU64>,
) -> Result<Metered<Box<dyn concord::Provider>>, Error> {
    let timed = || -> Box<dyn concord::Provider> {
        let t = Timed {
            inner: route.provider.clone(),
            upstream: upstream.clone(),
            timer: crate::observe::CallTimer {
                tokens: tenant.tpm.map(|tpm| (server.clone(), tpm)),
            },
        };
        // Several instances: the deployment's limits of the provider, held in Redis.
        match &server.shared {
            Some(shared) => Box::new(crate::shared::shared_limited(
                t,
                shared.clone(),
                &route.name,
                server.models.limits(&route.name).as_ref(),
            )),
            None => Box::new(t),
        }
    };
    let inner: Box<dyn concord::Provider> = match tenant.budget {
        None => timed(),
        Some(budget) => {
            let prices = server
                .models
                .get(&route.name, &route.model)
                .map(|m| m.prices);
            let most = crate::budget::max_cost(
                body_bytes,
                request
                    .params
                    .max_output_tokens
                    .or(ctx.settings.max_output_tokens),
                prices.as_ref(),
            )
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::QuotaExceeded,
                    "concord",
                    format!(
                        "{}/{} has no prices in the model database, and the tenant {} has a budget: a call without a price cannot be held to it (add prices with concord models set)",
                        route.name, route.model, tenant.name
                    ),
                )
            })?;
            Box::new(crate::budget::budgeted(
                timed(),
                server.budgets.clone(),
                &tenant.name,
                budget,
                most,
                prices.unwrap_or_default(),
            ))
        }
    };
    Ok(
        Metered::new(inner, server.models.clone(), server.recorder.clone())
            .listed_as(route.name.clone()),
    )
}

/// A fallback target that notes when it answered (for the headers and the cost).
struct Marked {
    inner: Metered<Box<dyn concord::Provider>>,
    index: usize,
    answered: Arc<AtomicUsize>,
}

impl concord::Provider for Marked {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn capabilities(&self) -> concord::Capabilities {
        self.inner.capabilities()
    }

    fn generate<'a>(
        &'a self,
        request: &'a concord::Request,
        ctx: &'a RuntimeContext,
    ) -> futures_util::future::BoxFuture<'a, concord::Result<concord::Response>> {
        Box::pin(async move {
            let r = self.inner.generate(request, ctx).await;
            if r.is_ok() {
                self.answered.store(self.index, Ordering::Relaxed);
            }
            r
        })
    }

    fn stream<'a>(
        &'a self,
        request: &'a concord::Request,
        ctx: &'a RuntimeContext,
    ) -> futures_util::future::BoxFuture<'a, concord::Result<EventStream>> {
        Box::pin(async move {
            let events = self.inner.stream(request, ctx).await?;
            let (index, answered) = (self.index, self.answered.clone());
            // It answered when its first event is not an error (the fallback's own rule).
            let mut first = true;
            Ok(events
                .inspect(move |item| {
                    if std::mem::take(&mut first) && item.is_ok() {
                        answered.store(index, Ordering::Relaxed);
                    }
                })
                .boxed())
        })
    }
}

/// The fallback targets of a call as one provider: each target brings its own context, so
/// the call's is not used.
struct Chain {
    fallback: concord_dispatch::Fallback,
    name: String,
    caps: concord::Capabilities,
}

impl concord::Provider for Chain {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> concord::Capabilities {
        self.caps
    }

    fn generate<'a>(
        &'a self,
        request: &'a concord::Request,
        _ctx: &'a RuntimeContext,
    ) -> futures_util::future::BoxFuture<'a, concord::Result<concord::Response>> {
        Box::pin(self.fallback.generate(request))
    }

    fn stream<'a>(
        &'a self,
        request: &'a concord::Request,
        _ctx: &'a RuntimeContext,
    ) -> futures_util::future::BoxFuture<'a, concord::Result<EventStream>> {
        Box::pin(self.fallback.stream(request))
    }
}

/// The registered provider, timed: how long its `generate` took, in microseconds, for the
/// server's own overhead (the rest of a call's time), and every call's
/// `gen_ai.server.request.duration`.
struct Timed {
    inner: concord_registry::Handle,
    upstream: Arc<AtomicU64>,
    timer: crate::observe::CallTimer,
}

impl concord::Provider for Timed {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn capabilities(&self) -> concord::Capabilities {
        self.inner.capabilities()
    }

    fn generate<'a>(
        &'a self,
        request: &'a concord::Request,
        ctx: &'a RuntimeContext,
    ) -> futures_util::future::BoxFuture<'a, concord::Result<concord::Response>> {
        Box::pin(async move {
            let started = std::time::Instant::now();
            let r = concord_dispatch::hook::generate(&self.timer, &self.inner, request, ctx).await;
            self.upstream
                .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
            r
        })
    }

    fn stream<'a>(
        &'a self,
        request: &'a concord::Request,
        ctx: &'a RuntimeContext,
    ) -> futures_util::future::BoxFuture<'a, concord::Result<EventStream>> {
        concord_dispatch::hook::stream(&self.timer, &self.inner, request, ctx)
    }
}

/// `x-concord-overhead-ms`: what a call took beyond its provider's time, in milliseconds.
pub(crate) fn overhead_header(headers: &mut HeaderMap, call: &Call, started: std::time::Instant) {
    let total = started.elapsed().as_micros() as u64;
    let upstream = call.upstream.load(Ordering::Relaxed);
    let ms = total.saturating_sub(upstream) as f64 / 1000.0;
    if let Ok(v) = HeaderValue::from_str(&format!("{ms:.3}")) {
        headers.insert("x-concord-overhead-ms", v);
    }
}

/// A stream's first event, awaited before the response starts: an error before any output
/// is an HTTP error (the dispatcher's retry and fallback have had their turn), not a broken
/// stream.
pub(crate) async fn first_event(
    mut events: EventStream,
) -> Result<(StreamEvent, EventStream), Error> {
    match events.next().await {
        Some(Ok(event)) => Ok((event, events)),
        Some(Err(e)) => Err(e),
        None => Err(Error::new(
            ErrorKind::StreamInterrupted,
            "concord",
            "the provider's stream ended before it began",
        )),
    }
}

/// The headers every answer carries: which provider served it, and a deprecation.
pub(crate) fn route_headers(headers: &mut HeaderMap, r: &Route) {
    if let Ok(v) = HeaderValue::from_str(&r.name) {
        headers.insert("x-concord-provider", v);
    }
    if let Some((why, replaced_by)) = &r.deprecated {
        headers.insert("deprecation", HeaderValue::from_static("true"));
        if let Some(v) = replaced_by
            .as_deref()
            .and_then(|r| HeaderValue::from_str(r).ok())
        {
            headers.insert("x-concord-replaced-by", v);
        }
        if let Ok(v) = HeaderValue::from_str(why) {
            headers.insert("warning", v);
        }
    }
}

/// The cost header of an answer whose model has prices.
pub(crate) fn cost_header(
    headers: &mut HeaderMap,
    server: &Server,
    r: &Route,
    usage: &concord::Usage,
) {
    let prices = server.models.get(&r.name, &r.model).map(|m| m.prices);
    if let Some(c) = prices.and_then(|p| concord_models::cost(usage, &p)) {
        if let Ok(v) = HeaderValue::from_str(&c.total.dollars()) {
            headers.insert("x-concord-cost-usd", v);
        }
    }
}

/// A streamed body from `frames`, with the headers of server-sent events.
pub(crate) fn event_stream(
    frames: impl futures_util::Stream<Item = Result<bytes::Bytes, std::convert::Infallible>>
        + Send
        + 'static,
) -> Response {
    let mut r = Response::new(Body::from_stream(frames));
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    r
}

/// Seconds since the epoch.
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A response id for an answer whose vendor gave none (`prefix` and the time in nanoseconds).
pub(crate) fn response_id(prefix: &str, vendor: &str) -> String {
    if vendor.is_empty() {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{prefix}concord{n:x}")
    } else {
        vendor.to_owned()
    }
}
