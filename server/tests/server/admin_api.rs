//! The admin API and the pages' guard without a browser: what a script gets, what a page without
//! a session gets, and what a forged cross-site request gets.

use serde_json::{json, Value};

use crate::common::{deploy, Deployment, ADMIN_KEY};
use concord_harness::Protocol;

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in as a browser would and returns the session cookie and its CSRF token.
async fn sign_in(d: &Deployment) -> (String, String) {
    let http = no_redirects();
    let r = http
        .post(format!("{}/admin/login", d.base))
        .form(&[("key", ADMIN_KEY)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let page = http
        .get(format!("{}/admin/tenants", d.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form carries the CSRF token")
        + 19;
    let csrf = page[at..].split('"').next().unwrap().to_owned();
    (cookie, csrf)
}

#[tokio::test]
async fn without_the_admin_key_nothing_is_shown_or_changed() {
    let d = deploy(
        "admin-guard",
        &[("openai", "openai", Protocol::Openai, "auto")],
    )
    .await;
    let http = no_redirects();
    for page in [
        "/admin",
        "/admin/models",
        "/admin/models/edit",
        "/admin/infra",
        "/admin/tenants",
        "/admin/spend",
    ] {
        let r = http.get(format!("{}{page}", d.base)).send().await.unwrap();
        let to = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        assert!(
            r.status() == 303 && to.as_deref() == Some("/admin/login"),
            "{page}: {} {to:?}",
            r.status()
        );
    }
    for (method, api) in [
        ("GET", "/admin/api/models"),
        ("GET", "/admin/api/providers"),
        ("GET", "/admin/api/tenants"),
        ("GET", "/admin/api/spend"),
        ("GET", "/admin/api/calls"),
        ("GET", "/admin/api/calls.csv"),
        ("POST", "/admin/api/tenants"),
        ("POST", "/admin/api/models"),
        ("POST", "/admin/api/tenants/team-a/rotate"),
    ] {
        for auth in [None, Some("Bearer wrong-key"), Some(d.key.as_str())] {
            let mut r = http.request(method.parse().unwrap(), format!("{}{api}", d.base));
            if let Some(a) = auth {
                r = r.header(
                    "authorization",
                    if a.starts_with("Bearer") {
                        a.to_owned()
                    } else {
                        format!("Bearer {a}")
                    },
                );
            }
            let r = r
                .json(&json!({"name": "intruder", "id": "openai/x", "input": "1", "output": "1"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 401, "{method} {api} with {auth:?}");
        }
    }
    assert!(d.server.tenants.get("intruder").is_none());
    assert!(d.server.models.get("openai", "x").is_none());
    // A tenant's key is not the admin key, and the admin key is not a tenant's.
    let r = d.post("/v1/chat/completions", "{}").await;
    assert_ne!(r.status(), 401);
    let r = http
        .post(format!("{}/v1/chat/completions", d.base))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn a_forged_cross_site_post_is_refused() {
    let d = deploy(
        "admin-csrf",
        &[("openai", "openai", Protocol::Openai, "auto")],
    )
    .await;
    let (cookie, csrf) = sign_in(&d).await;
    let http = no_redirects();
    let post = |form: Vec<(&'static str, String)>, origin: Option<&'static str>| {
        let mut r = http
            .post(format!("{}/admin/api/tenants", d.base))
            .header("cookie", &cookie)
            .form(&form);
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    // The cookie alone (what a cross-site form would send): refused.
    let r = post(vec![("name", "forged-1".into())], None).await.unwrap();
    assert_eq!(r.status(), 403);
    // A wrong token: refused.
    let r = post(
        vec![("name", "forged-2".into()), ("csrf", "x".repeat(43))],
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    // The right token from another site's page: refused.
    let r = post(
        vec![("name", "forged-3".into()), ("csrf", csrf.clone())],
        Some("http://evil.example"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    for n in ["forged-1", "forged-2", "forged-3"] {
        assert!(d.server.tenants.get(n).is_none(), "{n} was made");
    }
    // The page's own form: made.
    let own = d.base.clone();
    let r = http
        .post(format!("{}/admin/api/tenants", d.base))
        .header("cookie", &cookie)
        .header("origin", own)
        .form(&[("name", "made-here"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert!(d.server.tenants.get("made-here").is_some());
    // A forged session cookie is no session.
    let r = http
        .get(format!("{}/admin/models", d.base))
        .header("cookie", "concord_admin=v1.99999999999.AAAA.AAAA")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn a_script_does_everything_the_pages_do_with_the_same_rules() {
    let d = deploy(
        "admin-script",
        &[("openai", "openai", Protocol::Openai, "auto")],
    )
    .await;
    let http = reqwest::Client::new();
    let api = |path: &str| format!("{}/admin/api/{path}", d.base);
    let post = |path: &str, body: Value| {
        http.post(api(path))
            .bearer_auth(ADMIN_KEY)
            .json(&body)
            .send()
    };
    // The CLI's rules and messages: over-precise, negative, unknown provider, new without prices.
    for (body, field, says) in [
        (
            json!({"id": "openai/m", "input": "0.0000001", "output": "1"}),
            "input",
            "more precision than a millionth",
        ),
        (
            json!({"id": "openai/m", "input": "-1", "output": "1"}),
            "input",
            "negative",
        ),
        (
            json!({"id": "nowhere/m", "input": "1", "output": "1"}),
            "id",
            "unknown provider \"nowhere\"",
        ),
        (json!({"id": "openai/m", "output": "1"}), "input", "is new"),
        (
            json!({"id": "openai/m", "input": "1", "output": "1", "status": "gone"}),
            "status",
            "expected active, deprecated or inactive",
        ),
    ] {
        let r = post("models", body.clone()).await.unwrap();
        assert_eq!(r.status(), 422, "{body}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["field"], field, "{body}: {e}");
        assert!(
            e["error"]["message"].as_str().unwrap().contains(says),
            "{body}: {e}"
        );
    }
    assert!(
        d.server.models.get("openai", "m").is_none(),
        "nothing half-saved"
    );
    // Prices as strings or numbers; added (201), then changed (200); exact back.
    let r = post(
        "models",
        json!({"id": "openai/m", "input": "0.15", "output": 0.6}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let m: Value = r.json().await.unwrap();
    assert_eq!(m["prices_per_million"]["input"], "0.15");
    assert_eq!(m["prices_per_million"]["output"], "0.6");
    let r = post("models", json!({"id": "openai/m", "output": "0.7"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        d.server
            .models
            .get("openai", "m")
            .unwrap()
            .prices
            .base
            .input
            .per_million_text(),
        "0.15"
    );
    // Deprecate needs a replacement that exists.
    let r = post(
        "models/deprecate",
        json!({"id": "openai/m", "replaced_by": "openai/none"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 422);
    let r = post(
        "models/deprecate",
        json!({"id": "openai/m", "replaced_by": "openai/gpt-4o-mini"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    // Defaults, tenants (the key in the answer once), limits of a provider without a dispatcher.
    let r = post(
        "defaults",
        json!({"purpose": "default", "model": "openai/gpt-4o-mini"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        d.server.models.default_for("default").as_deref(),
        Some("openai/gpt-4o-mini")
    );
    let r = post(
        "tenants",
        json!({"name": "scripted", "budget_usd": "2.50", "rpm": 60}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let made: Value = r.json().await.unwrap();
    let key = made["key"].as_str().unwrap();
    let listed = http
        .get(api("tenants"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!listed.contains(key), "a key is never listed");
    assert!(listed.contains("\"usd\":\"2.5\""), "{listed}");
    let r = post("tenants", json!({"name": "scripted"})).await.unwrap();
    assert_eq!(r.status(), 409);
    let r = post("tenants", json!({"name": "Bad Name!"})).await.unwrap();
    assert_eq!(r.status(), 422);
    let r = post("tenants/nobody/disable", json!({})).await.unwrap();
    assert_eq!(r.status(), 404);
    let r = post(
        "providers/limits",
        json!({"provider": "nobody", "parallel": 2}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    // Bad bodies are 4xx with a reason, never a panic.
    for bad in ["{", "[]", "{\"id\": 5, \"input\": {}}"] {
        let r = http
            .post(api("models"))
            .bearer_auth(ADMIN_KEY)
            .header("content-type", "application/json")
            .body(bad)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{bad}: {}", r.status());
    }
    let r = http
        .get(api("calls.csv?from=2026-13-01"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
