//! Budgets hold exactly under concurrency: each call reserves its worst case before it starts
//! and settles to its real cost after, so calls at once never spend past the budget.

use concord_harness::Protocol;
use concord_models::Money;
use concord_server::tenants::{Budget, Period};
use serde_json::Value;

use crate::common::deploy_with_latency;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_never_spend_past_the_budget() {
    let d = deploy_with_latency(
        "budget",
        &[("openai", "openai", Protocol::Openai, "text")],
        std::time::Duration::from_millis(300),
    )
    .await;
    let body = r#"{"model": "gpt-4o-mini", "max_tokens": 1000, "messages": [{"role": "user", "content": "Hello"}]}"#;
    // The worst case of this call at gpt-4o-mini's $0.15 / $0.60 per million: its bytes as
    // input tokens and 1,000 output tokens, in picodollars per token × tokens.
    let most = body.len() as i64 * 150_000 + 1000 * 600_000;
    // Room for three worst cases at once, not four.
    let budget = Money(3 * most + most / 2);
    d.server
        .tenants
        .set_budget(
            "team-a",
            Some(Budget {
                limit: budget,
                period: Period::Month,
            }),
        )
        .await
        .unwrap();
    let calls = (0..10).map(|_| d.post("/v1/chat/completions", body));
    let answers = futures_util::future::join_all(calls).await;
    let mut admitted = 0;
    for r in answers {
        match r.status().as_u16() {
            200 => admitted += 1,
            429 => {
                assert!(
                    r.headers().contains_key("retry-after"),
                    "when the month ends"
                );
                let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
                assert_eq!(v["error"]["type"], "insufficient_quota", "{v}");
                assert!(
                    v["error"]["message"].as_str().unwrap().contains("budget"),
                    "{v}"
                );
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(
        admitted, 3,
        "exactly the calls whose worst cases fit at once"
    );
    assert_eq!(
        d.mocks[0].requests().len(),
        3,
        "refused calls never reach the vendor"
    );
    // Settled: the real cost of three calls (19 in, 10 out: 8.85 µ$ each), nothing held.
    let standing = d.server.budgets.standing("team-a").unwrap();
    assert_eq!(standing.reserved, Money(0));
    assert_eq!(standing.spent, Money(3 * 8_850_000));
    // The refusals are recorded too, with no cost.
    d.server.recorder.flush().await;
    let records = d.server.models.store().calls(0).await.unwrap();
    assert_eq!(records.len(), 10);
    assert_eq!(
        records
            .iter()
            .filter(|r| r.outcome == "quota_exceeded")
            .count(),
        7
    );
    // With the calls settled there is room again.
    let r = d.post("/v1/chat/completions", body).await;
    assert_eq!(r.status(), 200);
}

/// A tenant's tokens per minute are counted from each call's usage when it ends: a call that
/// spends more than a minute's worth leaves the tenant refused, with the exact wait, until the
/// minute has paid it back; another tenant is not held up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_over_its_tokens_per_minute_waits_for_them() {
    let d = crate::common::deploy("tpm", &[("openai", "openai", Protocol::Openai, "text")]).await;
    let body =
        r#"{"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}"#;
    let first = d.post("/v1/chat/completions", body).await;
    assert_eq!(first.status(), 200);
    let v: Value = serde_json::from_str(&first.text().await.unwrap()).unwrap();
    let spent = v["usage"]["total_tokens"].as_u64().unwrap();
    assert!(spent > 2, "the fixture's usage: {v}");
    // Half of what one call spends, a minute: the next call waits for the rest to be paid.
    let tpm = spent / 2;
    d.server
        .tenants
        .set_rate_limits("team-a", None, Some(tpm))
        .await
        .unwrap();
    let second = d.post("/v1/chat/completions", body).await;
    assert_eq!(second.status(), 200, "nothing spent under the limit yet");
    let third = d.post("/v1/chat/completions", body).await;
    assert_eq!(third.status(), 429);
    // `spent` tokens at `tpm` a minute take about two minutes; one is the allowance.
    let wait: u64 = third.headers()["retry-after-ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let due = spent * 60_000 / tpm - 60_000;
    assert!(
        (due.saturating_sub(5_000)..=due + 1).contains(&wait),
        "{wait} ms, {due} ms due"
    );
    let v: Value = serde_json::from_str(&third.text().await.unwrap()).unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tokens a minute"),
        "{v}"
    );
}

/// Requests per minute: a minute's worth at once, then a 429 with the wait to the next slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_over_its_requests_per_minute_is_told_when_to_come_back() {
    let d = crate::common::deploy("rpm", &[("openai", "openai", Protocol::Openai, "text")]).await;
    d.server
        .tenants
        .set_rate_limits("team-a", Some(2), None)
        .await
        .unwrap();
    let body =
        r#"{"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}"#;
    for _ in 0..2 {
        assert_eq!(d.post("/v1/chat/completions", body).await.status(), 200);
    }
    let refused = d.post("/v1/chat/completions", body).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(
        refused.headers()["retry-after"],
        "30",
        "2 a minute: one every 30 s"
    );
    assert!(d
        .server
        .tenants
        .set_rate_limits("team-a", Some(0), None)
        .await
        .is_err());
}

/// `[server] fallbacks`: a model whose vendor fails before answering is served by the next
/// target, whose provider the headers name and whose prices the cost is; both attempts are
/// recorded. A failure the caller caused is not sent elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_model_falls_back_to_the_next_target() {
    let mut settings = concord_server::ServerSection::default();
    settings.fallbacks.insert(
        "primary/gpt-4o-mini".into(),
        vec!["backup/claude-sonnet-4-5".into()],
    );
    settings.fallbacks.insert(
        "refusing/gpt-4o-mini".into(),
        vec!["backup/claude-sonnet-4-5".into()],
    );
    let d = crate::common::deploy_with(
        "fallback",
        &[
            ("primary", "openai", Protocol::Openai, "error_server_error"),
            ("backup", "anthropic", Protocol::Anthropic, "text"),
            ("refusing", "openai", Protocol::Openai, "error_bad_request"),
        ],
        std::time::Duration::ZERO,
        settings,
    )
    .await;
    for stream in [false, true] {
        let body = format!(
            r#"{{"model": "primary/gpt-4o-mini", "stream": {stream}, "messages": [{{"role": "user", "content": "Hello"}}]}}"#
        );
        let r = d.post("/v1/chat/completions", &body).await;
        assert_eq!(r.status(), 200, "stream: {stream}");
        assert_eq!(
            r.headers()["x-concord-provider"],
            "backup",
            "stream: {stream}"
        );
        let text = r.text().await.unwrap();
        assert!(!text.contains("\"error\""), "{text}");
    }
    let r = d
        .post(
            "/v1/chat/completions",
            r#"{"model": "refusing/gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}"#,
        )
        .await;
    assert_eq!(r.status(), 400, "a bad request is not sent elsewhere");
    assert_eq!(
        d.mocks[1].requests().len(),
        2,
        "the backup saw the two fallen-back calls only"
    );
    d.server.recorder.flush().await;
    let records = d.server.models.store().calls(0).await.unwrap();
    // The recorder writes asynchronously (a stream's record when it ends), so the order of
    // records across attempts is not fixed; every attempt must be there.
    let mut seen: Vec<(&str, &str)> = records
        .iter()
        .map(|r| (r.provider.as_str(), r.outcome.as_str()))
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        vec![
            ("backup", "ok"),
            ("backup", "ok"),
            ("primary", "server_error"),
            ("primary", "server_error"),
            ("refusing", "invalid_request"),
        ]
    );
}
