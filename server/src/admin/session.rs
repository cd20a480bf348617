//! Signing in: the admin key, the session cookie and the CSRF token. Nothing is stored: a
//! session is `v1.<expiry>.<nonce>.<mac>`, the MAC an HMAC-SHA-256 under a key derived from the
//! admin key, and its CSRF token an HMAC of its nonce under the same key. Any instance with the
//! same admin key checks both; a new admin key ends every session.

use std::sync::Arc;

use axum::extract::{Form, State};
use axum::response::{IntoResponse, Redirect, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{pages, secure, Caller, COOKIE};
use crate::Server;

/// How long a session lasts.
const SESSION_SECS: u64 = 12 * 60 * 60;

/// The admin key, kept only as what checks it: its SHA-256 and the session-signing key derived
/// from it. `Debug` shows neither.
#[derive(Clone)]
pub struct AdminKey {
    hash: [u8; 32],
    signing: [u8; 32],
}

impl std::fmt::Debug for AdminKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminKey(…)")
    }
}

impl AdminKey {
    /// The admin key `key` (surrounding whitespace ignored); `None` when it is empty.
    pub fn new(key: &str) -> Option<Self> {
        let key = key.trim();
        if key.is_empty() {
            return None;
        }
        let hash: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let signing: [u8; 32] = Sha256::new()
            .chain_update(b"concord admin session v1\0")
            .chain_update(key.as_bytes())
            .finalize()
            .into();
        Some(Self { hash, signing })
    }

    /// Whether `key` is the admin key (compared in constant time, as hashes).
    pub fn matches(&self, key: &str) -> bool {
        let h: [u8; 32] = Sha256::digest(key.trim().as_bytes()).into();
        bool::from(h.ct_eq(&self.hash))
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut m = Hmac::<Sha256>::new_from_slice(&self.signing).expect("HMAC takes any key");
        for p in parts {
            m.update(p);
            m.update(b"\0");
        }
        m.finalize().into_bytes().into()
    }

    /// A new session cookie's value, valid until `expiry` (Unix seconds).
    fn session(&self, expiry: u64) -> String {
        let mut nonce = [0u8; 18];
        if getrandom::getrandom(&mut nonce).is_err() {
            // No randomness, no session: an empty nonce would make every session's CSRF
            // token the same. The caller treats this as a failed sign-in.
            return String::new();
        }
        let nonce = B64.encode(nonce);
        let expiry = expiry.to_string();
        let mac = B64.encode(self.mac(&[b"session", expiry.as_bytes(), nonce.as_bytes()]));
        format!("v1.{expiry}.{nonce}.{mac}")
    }

    /// The CSRF token of a valid session `value`, or `None` when it is forged or expired.
    fn check(&self, value: &str, now: u64) -> Option<String> {
        let mut it = value.split('.');
        let (Some("v1"), Some(expiry), Some(nonce), Some(mac), None) =
            (it.next(), it.next(), it.next(), it.next(), it.next())
        else {
            return None;
        };
        let want = self.mac(&[b"session", expiry.as_bytes(), nonce.as_bytes()]);
        let got = B64.decode(mac).ok()?;
        if !bool::from(got.as_slice().ct_eq(&want)) {
            return None;
        }
        if expiry.parse::<u64>().ok()? <= now {
            return None;
        }
        Some(B64.encode(self.mac(&[b"csrf", nonce.as_bytes()])))
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Who is calling, by bearer key or session cookie; `None` when neither is valid.
pub(super) fn caller(key: &AdminKey, headers: &HeaderMap) -> Option<Caller> {
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let token = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("bearer "))?;
        return key.matches(token).then_some(Caller::Script);
    }
    let now = now_secs();
    cookies(headers)
        .filter(|(name, _)| *name == COOKIE)
        .find_map(|(_, value)| key.check(value, now))
        .map(|csrf| Caller::Person { csrf })
}

fn cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
}

/// Whether the request's `Origin` (or, without one, its `Referer`) is this host. A browser
/// sends `Origin` on every cross-site POST; a request with neither is not from a browser page
/// and passes on its CSRF token alone.
pub(super) fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let from = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|h| h.to_str().ok());
    match (from, host) {
        (None, _) => true,
        (Some(from), Some(host)) => {
            let rest = from
                .strip_prefix("http://")
                .or_else(|| from.strip_prefix("https://"))
                .unwrap_or("");
            let authority = rest.split('/').next().unwrap_or("");
            authority.eq_ignore_ascii_case(host)
        }
        (Some(_), None) => false,
    }
}

/// Whether the request carries the session's CSRF token: `x-csrf-token`, or a form's `csrf`.
pub(super) fn csrf_ok(csrf: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    let same = |t: &str| bool::from(t.as_bytes().ct_eq(csrf.as_bytes()));
    if let Some(t) = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()) {
        return same(t);
    }
    form_urlencoded_field(body, "csrf").is_some_and(|t| same(&t))
}

/// A form's body without its `csrf` field (any other body as it is).
pub(super) fn without_csrf(headers: &HeaderMap, body: bytes::Bytes) -> bytes::Bytes {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return body;
    }
    match serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) {
        Ok(pairs) => {
            let kept: Vec<_> = pairs.into_iter().filter(|(k, _)| k != "csrf").collect();
            serde_urlencoded::to_string(kept).map_or(body, bytes::Bytes::from)
        }
        Err(_) => body,
    }
}

fn form_urlencoded_field(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// `GET /admin/login`.
pub(super) async fn login_page(State(server): State<Arc<Server>>) -> Response {
    if server.admin.is_none() {
        return secure(super::unconfigured(false));
    }
    secure(pages::login(StatusCode::OK, None))
}

#[derive(serde::Deserialize)]
pub(super) struct Login {
    key: String,
}

/// `POST /admin/login`: a right key sets the session cookie and goes to the models.
pub(super) async fn login(
    State(server): State<Arc<Server>>,
    headers: HeaderMap,
    Form(form): Form<Login>,
) -> Response {
    let Some(key) = server.admin.as_ref() else {
        return secure(super::unconfigured(false));
    };
    if !same_origin(&headers) {
        return secure(pages::login(
            StatusCode::FORBIDDEN,
            Some("This sign-in did not come from this site's page."),
        ));
    }
    if !key.matches(&form.key) {
        tracing::warn!("admin sign-in refused: not the admin key");
        return secure(pages::login(
            StatusCode::UNAUTHORIZED,
            Some("That is not the admin key."),
        ));
    }
    let value = key.session(now_secs() + SESSION_SECS);
    if value.is_empty() {
        return secure(pages::login(
            StatusCode::INTERNAL_SERVER_ERROR,
            Some("The system has no randomness to make a session with; try again."),
        ));
    }
    // Secure only when a proxy says the browser came over HTTPS: on plain loopback HTTP a
    // Secure cookie would never come back.
    let https = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let cookie = format!(
        "{COOKIE}={value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECS}{}",
        if https { "; Secure" } else { "" }
    );
    let mut r = Redirect::to("/admin/models").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    secure(r)
}

/// `POST /admin/logout`: the cookie is cleared.
pub(super) async fn logout() -> Response {
    let mut r = Redirect::to("/admin/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "concord_admin=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    r
}
