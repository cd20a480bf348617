//! `GET /health/live` (the process answers) and `GET /health/ready` (it can serve: the
//! database answers and a provider is registered), with each provider's status and breaker.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde_json::{json, Value};

use crate::doors::json;
use crate::Server;

/// `GET /health/live`: 200 while the process serves requests at all.
pub(crate) async fn live() -> Response {
    json(200, &json!({"status": "live"}))
}

/// `GET /health/ready`: 200 when the server can take calls, else 503; both with the reasons.
pub(crate) async fn ready(State(server): State<Arc<Server>>) -> Response {
    let mut reasons = Vec::new();
    let database = match server.tenants.ping().await {
        Ok(()) => json!({"ok": true}),
        Err(e) => {
            reasons.push(format!("the database does not answer: {e}"));
            json!({"ok": false, "error": e.to_string()})
        }
    };
    let providers: Vec<Value> = server
        .registry
        .snapshot()
        .into_iter()
        .map(|i| {
            json!({
                "name": i.name,
                "status": i.status.name(),
                "breaker": i.breaker.map(|b| format!("{b:?}").to_lowercase()),
                "model": i.model,
            })
        })
        .collect();
    if providers.is_empty() {
        reasons.push("no provider is registered".to_owned());
    }
    let ready = reasons.is_empty();
    // Redis gone is no reason to stop serving: limits fall back to this instance's share.
    let shared = server.shared.as_ref().map(|s| {
        let st = s.state();
        json!({
            "redis": if st.shared { "ok" } else { "unreachable" },
            "limits": if st.shared { "shared".to_owned() } else { format!("local share: 1/{} of each tenant's limit", st.instances) },
            "instances": st.instances,
            "error": st.why,
        })
    });
    let degraded = server.shared.as_ref().is_some_and(|s| !s.state().shared);
    json(
        if ready { 200 } else { 503 },
        &json!({"ready": ready, "degraded": degraded, "reasons": reasons, "database": database, "providers": providers, "shared": shared}),
    )
}
