//! Users' runtimes at the doors: a tenant's application keeps, for each user of its own, the
//! model and parameters that user's calls run with (`PUT /v1/runtimes/{user}`), and names the
//! user on a call with `x-concord-user`. A call that names no model then goes to the user's;
//! the user's parameters fill what the call leaves unset. Tenants never see each other's users
//! (the store's key is `tenant/user`).
//!
//! The store is this process's (`[runtimes]`: idle TTL, cap) or, with Redis, the deployment's
//! (`shared/runtimes.rs`): a change on one instance is what the next call on any instance uses.
//! docs/server.md, "Users' runtimes".

use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use concord::{Error, ErrorKind, Parameters};
use concord_registry::{RuntimeStore, Runtimes, RuntimesConfig, UserRuntime};
use serde::Deserialize;
use serde_json::json;

use crate::doors::openai::error;
use crate::doors::{api_key, caller, json};
use crate::tenants::Tenant;
use crate::Server;

/// The header that names the user a call is for.
pub const USER_HEADER: &str = "x-concord-user";

/// The longest user id taken.
const MAX_USER: usize = 256;

/// Where users' runtimes are kept.
pub struct Users {
    store: ArcSwap<Box<dyn RuntimeStore>>,
    config: RuntimesConfig,
}

impl Default for Users {
    fn default() -> Self {
        Self::new(RuntimesConfig::default())
    }
}

impl Users {
    /// In this process, evicted as `config` says.
    pub fn new(config: RuntimesConfig) -> Self {
        Self {
            store: ArcSwap::from_pointee(Box::new(Runtimes::new(config.clone()))),
            config,
        }
    }

    /// How runtimes are kept (the idle TTL a shared store applies too).
    pub fn config(&self) -> &RuntimesConfig {
        &self.config
    }

    /// Runtimes go to `store` from now on.
    pub fn share(&self, store: Box<dyn RuntimeStore>) {
        self.store.store(Arc::new(store));
    }

    fn store(&self) -> Arc<Box<dyn RuntimeStore>> {
        self.store.load_full()
    }

    /// The runtime of the user a call names in `x-concord-user`, if it names one who has one.
    pub(crate) async fn of_call(
        &self,
        tenant: &Tenant,
        headers: &HeaderMap,
    ) -> Result<Option<Arc<UserRuntime>>, Error> {
        let Some(user) = headers.get(USER_HEADER) else {
            return Ok(None);
        };
        let user = user
            .to_str()
            .ok()
            .filter(|u| valid(u))
            .ok_or_else(|| invalid_user(USER_HEADER))?;
        self.store()
            .load(&key(tenant, user))
            .await
            .map_err(unavailable)
    }
}

fn key(tenant: &Tenant, user: &str) -> String {
    format!("{}/{user}", tenant.name)
}

fn valid(user: &str) -> bool {
    !user.is_empty() && user.len() <= MAX_USER && !user.chars().any(char::is_control)
}

fn invalid_user(at: &str) -> Error {
    Error::new(
        ErrorKind::InvalidRequest,
        "concord",
        format!("{at}: a user id is 1 to {MAX_USER} bytes of text without control characters"),
    )
}

fn unavailable(e: concord_registry::Error) -> Error {
    Error::new(ErrorKind::Unavailable, "concord", e.to_string())
}

/// A runtime as it is set and shown.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    /// `provider/model`, or an id the model database lists.
    model: String,
    #[serde(default)]
    settings: Parameters,
}

fn shown(user: &str, rt: &UserRuntime) -> Response {
    json(
        200,
        &json!({"user": user, "model": format!("{}/{}", rt.provider, rt.model), "settings": rt.settings}),
    )
}

fn no_runtime(user: &str) -> Response {
    json(
        404,
        &json!({"error": {"message": format!("the user {user:?} has no runtime: set one with PUT /v1/runtimes/{{user}}"), "type": "not_found_error", "param": null, "code": "runtime_not_found"}}),
    )
}

async fn who(server: &Server, headers: &HeaderMap, user: &str) -> Result<Arc<Tenant>, Error> {
    let tenant = caller(&server.tenants, api_key(headers))?;
    if !valid(user) {
        return Err(invalid_user("the path's user"));
    }
    Ok(tenant)
}

/// `PUT /v1/runtimes/{user}`: sets the user's model (checked: it must route) and parameters.
pub(crate) async fn put(
    State(server): State<Arc<Server>>,
    Path(user): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let tenant = match who(&server, &headers, &user).await {
        Ok(t) => t,
        Err(e) => return error(&e),
    };
    let body: Body = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return error(&Error::new(
                ErrorKind::InvalidRequest,
                "concord",
                format!("the body is not a runtime ({e}): {{\"model\": \"provider/model\", \"settings\": {{\"temperature\": 0.2, \"max_output_tokens\": 500}}}}"),
            ))
        }
    };
    let route = match crate::route::route(&server.registry, &server.models, Some(&body.model), None)
    {
        Ok(r) => r,
        Err(e) => return error(&e),
    };
    let runtime = UserRuntime {
        settings: body.settings,
        ..UserRuntime::new(route.name, route.model)
    };
    let shown_back = shown(&user, &runtime);
    match server
        .users
        .store()
        .save(&key(&tenant, &user), runtime)
        .await
    {
        Ok(()) => shown_back,
        Err(e) => error(&unavailable(e)),
    }
}

/// `GET /v1/runtimes/{user}`.
pub(crate) async fn get(
    State(server): State<Arc<Server>>,
    Path(user): Path<String>,
    headers: HeaderMap,
) -> Response {
    let tenant = match who(&server, &headers, &user).await {
        Ok(t) => t,
        Err(e) => return error(&e),
    };
    match server.users.store().load(&key(&tenant, &user)).await {
        Ok(Some(rt)) => shown(&user, &rt),
        Ok(None) => no_runtime(&user),
        Err(e) => error(&unavailable(e)),
    }
}

/// `DELETE /v1/runtimes/{user}`.
pub(crate) async fn delete(
    State(server): State<Arc<Server>>,
    Path(user): Path<String>,
    headers: HeaderMap,
) -> Response {
    let tenant = match who(&server, &headers, &user).await {
        Ok(t) => t,
        Err(e) => return error(&e),
    };
    match server.users.store().forget(&key(&tenant, &user)).await {
        Ok(true) => {
            let mut r = Response::new(axum::body::Body::empty());
            *r.status_mut() = axum::http::StatusCode::NO_CONTENT;
            r
        }
        Ok(false) => no_runtime(&user),
        Err(e) => error(&unavailable(e)),
    }
}
