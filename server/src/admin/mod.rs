//! The admin pages and the admin API under `/admin` (docs/admin.md): models, providers and
//! their limits, tenants, spend. Behind the admin key, which never travels in a URL:
//!
//! - a script sends `Authorization: Bearer <admin key>`;
//! - a person signs in at `/admin/login` (a POST form) and gets a session cookie (HttpOnly,
//!   SameSite=Strict, path `/admin`), signed with a key derived from the admin key — so every
//!   instance sharing the admin key accepts it, and changing the key signs everyone out;
//! - a state-changing request made with the cookie must carry the session's CSRF token (a form's
//!   hidden `csrf` field, or `x-csrf-token`), and an `Origin`, when the browser sends one, must
//!   be this host: a cross-site form cannot forge either.
//!
//! The pages are server-rendered HTML (`pages.rs`) that work without JavaScript; their forms
//! post to the same `/admin/api/...` endpoints a script calls (`api.rs`), which answer a form
//! with a page and JSON with JSON.

mod api;
mod pages;
mod session;
mod spend;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use http::{header, HeaderValue, Method, StatusCode};

pub use session::AdminKey;

use crate::Server;

/// The name of the session cookie.
const COOKIE: &str = "concord_admin";

/// How a request proved it may administer.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    /// `Authorization: Bearer <admin key>`: a script.
    Script,
    /// The session cookie: a person in a browser, with the session's CSRF token.
    Person { csrf: String },
}

/// The routes under `/admin`, to be merged into the server's router.
pub(crate) fn router(server: &Arc<Server>) -> Router<Arc<Server>> {
    let guarded = Router::new()
        .route("/admin", get(|| async { Redirect::to("/admin/models") }))
        .route("/admin/", get(|| async { Redirect::to("/admin/models") }))
        .route("/admin/models", get(pages::models))
        .route("/admin/models/edit", get(pages::model_form))
        .route("/admin/models/deprecate", get(pages::deprecate_form))
        .route("/admin/infra", get(pages::infra))
        .route("/admin/tenants", get(pages::tenants))
        .route("/admin/spend", get(pages::spend))
        .route("/admin/logout", post(session::logout))
        .route("/admin/api/models", get(api::models).post(api::save_model))
        .route("/admin/api/models/deprecate", post(api::deprecate))
        .route("/admin/api/models/remove", post(api::remove))
        .route(
            "/admin/api/defaults",
            get(api::defaults).post(api::set_default),
        )
        .route("/admin/api/providers", get(api::providers))
        .route("/admin/api/providers/limits", post(api::provider_limits))
        .route(
            "/admin/api/tenants",
            get(api::tenants).post(api::create_tenant),
        )
        .route(
            "/admin/api/tenants/{name}/disable",
            post(api::disable_tenant),
        )
        .route("/admin/api/tenants/{name}/enable", post(api::enable_tenant))
        .route("/admin/api/tenants/{name}/rotate", post(api::rotate_tenant))
        .route("/admin/api/tenants/{name}/limits", post(api::tenant_limits))
        .route("/admin/api/tenants/{name}/budget", post(api::tenant_budget))
        .route("/admin/api/spend", get(api::spend))
        .route("/admin/api/calls", get(api::calls))
        .route("/admin/api/calls.csv", get(api::calls_csv))
        .fallback(not_found);
    Router::new()
        .route(
            "/admin/login",
            get(session::login_page).post(session::login),
        )
        .route("/admin/assets/admin.css", get(pages::css))
        .route("/admin/assets/admin.js", get(pages::js))
        .merge(guarded.layer(axum::middleware::from_fn_with_state(server.clone(), guard)))
}

async fn not_found(request: Request) -> Response {
    if request.uri().path().starts_with("/admin/api/") {
        api::error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such admin API endpoint (see docs/admin.md)",
        )
    } else {
        pages::message_page(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such admin page.",
        )
    }
}

/// Who may pass: the admin key as a bearer token, or a valid session with its CSRF token on
/// anything that changes state. Every answer gets the pages' security headers.
async fn guard(State(server): State<Arc<Server>>, mut request: Request, next: Next) -> Response {
    let api = request.uri().path().starts_with("/admin/api/");
    let Some(key) = server.admin.as_ref() else {
        return secure(unconfigured(api));
    };
    let caller = match session::caller(key, request.headers()) {
        Some(c) => c,
        None if api => {
            return secure(api::error(
                StatusCode::UNAUTHORIZED,
                "authentication",
                "send the admin key as Authorization: Bearer <key>, or sign in at /admin/login",
            ))
        }
        None => return secure(Redirect::to("/admin/login").into_response()),
    };
    if let Caller::Person { csrf } = &caller {
        if !matches!(*request.method(), Method::GET | Method::HEAD) {
            let (parts, body) = request.into_parts();
            let limit = usize::try_from(server.settings.body_limit).unwrap_or(usize::MAX);
            let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
                return secure(api::error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "invalid_request",
                    "the form is larger than the server's body limit",
                ));
            };
            if !session::same_origin(&parts.headers)
                || !session::csrf_ok(csrf, &parts.headers, &bytes)
            {
                return secure(pages::message_page(
                    StatusCode::FORBIDDEN,
                    "Refused",
                    "This request did not come from a page of this admin site (its CSRF token or origin is wrong). Reload the page and try again.",
                ));
            }
            // The token has done its job: the handlers read the form without it (their
            // bodies refuse fields they do not know).
            let bytes = session::without_csrf(&parts.headers, bytes);
            request = Request::from_parts(parts, Body::from(bytes));
        }
    }
    request.extensions_mut().insert(caller);
    secure(next.run(request).await)
}

fn unconfigured(api: bool) -> Response {
    let why = "the admin pages are off: no admin key is set (set CONCORD_ADMIN_KEY, or [server] admin_key = { env = \"…\" } or { file = \"…\" })";
    if api {
        api::error(StatusCode::SERVICE_UNAVAILABLE, "invalid_config", why)
    } else {
        pages::message_page(StatusCode::SERVICE_UNAVAILABLE, "Admin pages are off", why)
    }
}

/// The headers every admin answer carries: nothing cached, no framing, scripts and styles
/// only from this site (the pages have no inline script), no referrer to elsewhere.
pub(crate) fn secure(mut r: Response) -> Response {
    let h = r.headers_mut();
    let set = |h: &mut http::HeaderMap, k: header::HeaderName, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(h, header::CACHE_CONTROL, "no-store");
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::REFERRER_POLICY, "same-origin");
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    );
    r
}
