//! A gateway reached only from outside, as a [`ServerUnderTest`]: configured once with one
//! upstream, the suite's relay (`concord_harness::relay`), it reaches each check's own mock
//! through the marker the suite puts in the user text. The suite cannot administer it (no
//! tenants, prices, records or logs of its), so the checks that need that skip; the rest judge
//! what the gateway did, from the client's side and from the mock's log.

use std::sync::Arc;

use concord::{ContentPart, Message, Request, RuntimeContext};
use concord_harness::relay::{self, Relay};
use futures_util::future::BoxFuture;

use crate::served::{ServerFactory, ServerUnderTest};

/// Why an administering check skips.
pub const NOT_ADMINISTERED: &str =
    "a gateway reached from outside: the suite cannot create its tenants, set its prices or read its records and logs";

/// A gateway at `origin`, called with `key`, naming upstream models `{prefix}{model}`.
pub struct Gateway {
    origin: String,
    key: String,
    prefix: String,
    /// What must live as long as the gateway is used (the in-process gateway and its relay).
    _keep: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl Gateway {
    /// The gateway at `origin` (`http://host:port`).
    pub fn new(origin: &str, key: &str, prefix: &str) -> Self {
        Self {
            origin: origin.trim_end_matches('/').to_owned(),
            key: key.to_owned(),
            prefix: prefix.to_owned(),
            _keep: None,
        }
    }

    /// The same, keeping `parts` alive as long as the gateway is used (an in-process gateway,
    /// its relay).
    pub fn keeping(mut self, parts: impl std::any::Any + Send + Sync) -> Self {
        self._keep = Some(Box::new(parts));
        self
    }
}

/// `request` with its first user text marked for the mock `upstream` points at; `None` when
/// the request has no user text to mark or `upstream` no loopback port.
pub fn marked(request: &Request, upstream: &RuntimeContext) -> Option<Request> {
    let base = upstream.base_url.as_deref()?;
    let port: u16 = base
        .strip_prefix("http://127.0.0.1:")?
        .split('/')
        .next()?
        .parse()
        .ok()?;
    let mut out = request.clone();
    let text = out.messages.iter_mut().find_map(|m| match m {
        Message::User { content } => content.iter_mut().find_map(|p| match p {
            ContentPart::Text { text } => Some(text),
            _ => None,
        }),
        _ => None,
    })?;
    *text = relay::mark(text, port);
    Some(out)
}

fn refused<T: Send + 'static>() -> BoxFuture<'static, Result<T, String>> {
    Box::pin(async { Err(NOT_ADMINISTERED.to_owned()) })
}

impl ServerUnderTest for Gateway {
    fn origin(&self) -> &str {
        &self.origin
    }

    fn key(&self) -> &str {
        &self.key
    }

    /// The gateway's one upstream is the relay; nothing to register per context.
    fn register(&self, _name: &str, _ctx: RuntimeContext) -> Result<(), String> {
        Ok(())
    }

    fn tenant(
        &self,
        _name: &str,
        _budget: Option<concord_models::Money>,
    ) -> BoxFuture<'_, Result<String, String>> {
        refused()
    }

    fn rate_limits(
        &self,
        _tenant: &str,
        _rpm: Option<u64>,
        _tpm: Option<u64>,
    ) -> BoxFuture<'_, Result<(), String>> {
        refused()
    }

    fn price(
        &self,
        _provider: &str,
        _model: &str,
        _prices: concord_models::Prices,
    ) -> BoxFuture<'_, Result<(), String>> {
        refused()
    }

    fn records(&self) -> BoxFuture<'_, Result<Vec<concord_models::CallRecord>, String>> {
        refused()
    }

    fn logs(&self) -> Option<String> {
        None
    }

    fn administered(&self) -> bool {
        false
    }

    fn route_model(&self, _name: &str, model: &str) -> String {
        format!("{}{model}", self.prefix)
    }

    fn mark(&self, request: &Request, upstream: &RuntimeContext) -> Option<Request> {
        marked(request, upstream)
    }
}

/// An external gateway: every subject's calls go to it.
pub fn gateway_factory(origin: &str, key: &str, prefix: &str) -> ServerFactory {
    let (origin, key, prefix) = (origin.to_owned(), key.to_owned(), prefix.to_owned());
    Arc::new(move |_provider| {
        let g = Gateway::new(&origin, &key, &prefix);
        Box::pin(async move { Ok(Arc::new(g) as Arc<dyn ServerUnderTest>) })
    })
}

/// concord's own server treated as an external gateway: started in-process with one provider,
/// `relay`, the provider under test aimed at a relay on a free port (`base_path` after it, as
/// the vendor's base URL has), and judged only from outside.
pub fn concord_as_gateway_factory(base_path: &'static str) -> ServerFactory {
    Arc::new(move |provider| {
        Box::pin(async move {
            let relay = Relay::start(0)
                .await
                .map_err(|e| format!("the relay did not start: {e}"))?;
            let server = crate::served::start_concord_server(provider, Arc::new(|r| r)).await?;
            let upstream = RuntimeContext::new()
                .base_url(format!("{}{base_path}", relay.url()))
                .credential(crate::cx::MOCK_KEY)
                .timeout(std::time::Duration::from_secs(2))
                .client(reqwest::Client::new());
            server.register("relay", upstream)?;
            let g = Gateway::new(server.origin(), server.key(), "relay/");
            Ok(Arc::new(g.keeping((server, relay))) as Arc<dyn ServerUnderTest>)
        })
    })
}
