//! concord-server: what `concord serve` runs — doors in the formats clients already speak
//! (OpenAI Chat Completions, Anthropic Messages), any registered provider out, each
//! call routed through the model database (`route.rs`), metered and recorded with its cost,
//! under a tenant's key (`tenants.rs`). The router is a library so tests drive it in-process;
//! the CLI's `concord serve` is a thin shell around [`Server::serve`].
//!
//! It knows no wire format of its own: the doors' codecs live in `concord` beside the client
//! side they mirror (`concord::openai::serve`, `concord::anthropic::serve`).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod budget;
pub mod doors;
mod error;
pub mod health;
pub mod limits;
pub mod observe;
pub mod route;
pub mod settings;
pub mod shared;
pub mod tenants;
pub mod users;

use std::future::Future;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use concord_models::{Models, Recorder};
use concord_registry::Registry;

pub use error::{Error, Result};
pub use settings::{sections, RedisSection, ServerSection};
pub use tenants::{Auth, Tenant, Tenants};

/// A running deployment's parts: the registry that reaches providers, the model database and
/// its recorder, the tenants.
pub struct Server {
    /// The registered providers.
    pub registry: Registry,
    /// The model database.
    pub models: Arc<Models>,
    /// Writes a record of every call.
    pub recorder: Recorder,
    /// Who may call.
    pub tenants: Tenants,
    /// What each tenant has spent and holds.
    pub budgets: Arc<budget::Budgets>,
    /// `[server]`.
    pub settings: ServerSection,
    /// The admin key, if the admin pages are on (`/admin`, docs/admin.md).
    pub admin: Option<admin::AdminKey>,
    /// Users' runtimes (`/v1/runtimes/{user}`, `x-concord-user`).
    pub users: users::Users,
    /// The link to the other instances through Redis, if `[redis] url` is set
    /// (docs/scale-out.md).
    pub shared: Option<Arc<shared::Shared>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("listen", &self.settings.listen)
            .field("providers", &self.registry.names())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// The HTTP routes, to serve or to drive in-process.
    pub fn router(self: &Arc<Self>) -> Router {
        // The metrics recorder goes in before the first call, so /metrics misses none.
        observe::handle();
        let limit = usize::try_from(self.settings.body_limit).unwrap_or(usize::MAX);
        Router::new()
            .route(
                "/v1/chat/completions",
                post(doors::openai::chat_completions),
            )
            .route("/v1/messages", post(doors::anthropic::messages))
            .route("/v1/models", get(doors::openai::models))
            .route(
                "/v1/runtimes/{user}",
                get(users::get).put(users::put).delete(users::delete),
            )
            .route("/health/live", get(health::live))
            .route("/health/ready", get(health::ready))
            .route("/metrics", get(observe::render))
            .merge(admin::router(self))
            .layer(axum::middleware::from_fn(observe::track))
            .layer(DefaultBodyLimit::max(limit))
            .with_state(self.clone())
    }

    /// Serves on `listener` until `shutdown` completes; then takes no new connections, lets
    /// calls in flight finish within the registry's bound (`registry.shutdown_timeout`; past
    /// it they end `cancelled`, a stream with an error event), and writes every pending record.
    pub async fn serve(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
        // No Nagle delay: a stream's chunks are small and each should leave when written.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::warn!(error = %e, "TCP_NODELAY could not be set");
            }
        });
        let serving = axum::serve(listener, self.router()).with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stopping.send(());
        });
        // The registry's shutdown runs beside the server's: it is what bounds the calls the
        // server waits for. It starts only on the signal (a server that fails first drops the
        // sender, and this ends at once).
        let registry = self.registry.clone();
        let ending = async move {
            match stopped.await {
                Ok(()) => Some(registry.shutdown().await),
                Err(_) => None,
            }
        };
        let (served, report) = tokio::join!(serving, ending);
        if let Some(report) = report {
            tracing::info!(
                finished = report.finished,
                cancelled = report.cancelled,
                "calls in flight ended"
            );
        }
        let held = self.recorder.flush().await;
        if held > 0 {
            tracing::error!(
                held,
                "the database is not answering: call records that could not be written are lost at exit"
            );
        }
        served.map_err(|e| Error::Startup(format!("the server stopped: {e}")))
    }
}
