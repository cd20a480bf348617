//! Users' runtimes at the doors: a tenant sets a user's model and parameters, and a call that
//! names the user (`x-concord-user`) and no model runs with them; a call's own model and
//! parameters win; tenants never see each other's users.

use concord_harness::Protocol;
use serde_json::{json, Value};

use crate::common::{deploy, Deployment};

async fn send(
    d: &Deployment,
    method: reqwest::Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = d
        .client
        .request(method, format!("{}{path}", d.base))
        .bearer_auth(key);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn chat(d: &Deployment, user: Option<&str>, body: Value) -> u16 {
    let mut r = d
        .client
        .post(format!("{}/v1/chat/completions", d.base))
        .bearer_auth(&d.key)
        .json(&body);
    if let Some(u) = user {
        r = r.header("x-concord-user", u);
    }
    r.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn a_users_runtime_sets_the_model_and_parameters_of_their_calls() {
    let d = deploy(
        "runtimes",
        &[("openai", "openai", Protocol::Openai, "text")],
    )
    .await;
    let put = Some(
        json!({"model": "openai/gpt-4o", "settings": {"temperature": 0.25, "max_output_tokens": 77}}),
    );
    let (status, v) = send(&d, reqwest::Method::PUT, "/v1/runtimes/ana", &d.key, put).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["model"], "openai/gpt-4o");
    let (status, v) = send(&d, reqwest::Method::GET, "/v1/runtimes/ana", &d.key, None).await;
    assert_eq!(
        (status, v["settings"]["temperature"].clone()),
        (200, json!(0.25))
    );

    let hi = json!({"messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(chat(&d, Some("ana"), hi.clone()).await, 200);
    let sent = d.mocks[0].requests().pop().unwrap().body;
    assert_eq!(sent["model"], "gpt-4o", "the user's model: {sent}");
    assert_eq!(sent["temperature"], 0.25, "{sent}");
    assert_eq!(sent["max_completion_tokens"], 77, "{sent}");

    // The call's own model and parameters win.
    let own = json!({"model": "openai/gpt-4o-mini", "temperature": 0.9, "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(chat(&d, Some("ana"), own).await, 200);
    let sent = d.mocks[0].requests().pop().unwrap().body;
    assert_eq!(
        (sent["model"].clone(), sent["temperature"].clone()),
        (json!("gpt-4o-mini"), json!(0.9))
    );

    // Another tenant's user of the same name is another user.
    let other = d.server.tenants.create("team-b", None, None).await.unwrap();
    let (status, v) = send(&d, reqwest::Method::GET, "/v1/runtimes/ana", &other, None).await;
    assert_eq!(status, 404, "{v}");
    assert_eq!(v["error"]["code"], "runtime_not_found");

    // Forgotten: the call needs a model again (this deployment has no default).
    let (status, _) = send(
        &d,
        reqwest::Method::DELETE,
        "/v1/runtimes/ana",
        &d.key,
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(chat(&d, Some("ana"), hi).await, 400);
}

#[tokio::test]
async fn runtimes_refuse_what_they_cannot_keep() {
    let d = deploy(
        "runtimes-bad",
        &[("openai", "openai", Protocol::Openai, "text")],
    )
    .await;
    let cases = [
        (json!({"model": "nowhere/nothing"}), 404),
        (json!({"model": "openai/gpt-4o", "credential": "sk-x"}), 400),
        (json!({"settings": {}}), 400),
        (
            json!({"model": "openai/gpt-4o", "settings": {"temperature": "hot"}}),
            400,
        ),
    ];
    for (body, want) in cases {
        let (status, v) = send(
            &d,
            reqwest::Method::PUT,
            "/v1/runtimes/ana",
            &d.key,
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, want, "{body} → {v}");
        assert!(v["error"]["message"].is_string(), "{v}");
    }
    let (status, _) = send(&d, reqwest::Method::GET, "/v1/runtimes/ana", "wrong", None).await;
    assert_eq!(status, 401);
    let long = "u".repeat(300);
    let (status, _) = send(
        &d,
        reqwest::Method::GET,
        &format!("/v1/runtimes/{long}"),
        &d.key,
        None,
    )
    .await;
    assert_eq!(status, 400);
    let status = d
        .client
        .post(format!("{}/v1/chat/completions", d.base))
        .bearer_auth(&d.key)
        // Not text: a byte past ASCII that is not UTF-8.
        .header(
            "x-concord-user",
            reqwest::header::HeaderValue::from_bytes(b"a\xffb").unwrap(),
        )
        .json(&json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 400);
}
