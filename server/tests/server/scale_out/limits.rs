//! Tenants' and providers' limits held across instances through Redis, and the failure they
//! exist for without it.

use super::*;

#[tokio::test]
async fn without_redis_each_instance_allows_a_tenant_its_whole_limit() {
    // The failure the shared limits exist for, shown: two instances, twice the limit.
    let (c, keys) = cluster("alone", 2, None, &[("team", 6)]).await;
    assert_eq!(admitted(&c, &keys[0], 12).await, 12);
}

#[tokio::test]
async fn a_tenants_rate_holds_across_instances_sharing_redis() {
    let Some(redis) = redis_server().await else {
        return;
    };
    let (c, keys) = cluster("shared", 3, Some(&redis.url()), &[("team", 6)]).await;
    // Six a minute, a minute's worth at once: six of eighteen spread over three instances.
    assert_eq!(admitted(&c, &keys[0], 18).await, 6);
    let h = c.health(0).await;
    assert_eq!(h["shared"]["redis"], "ok", "{h}");
    assert_eq!(h["shared"]["instances"], 3, "{h}");
    assert_eq!(h["degraded"], false, "{h}");
}

#[tokio::test]
async fn a_providers_calls_in_parallel_hold_across_instances() {
    let Some(redis) = redis_server().await else {
        return;
    };
    let setup = Setup {
        latency: Duration::from_millis(150),
        limits: openai_limits(None, Some(2)),
        ..Setup::default()
    };
    let (c, keys) = cluster_with(
        "parallel",
        3,
        Some(&redis.url()),
        &[("team", 100_000)],
        setup,
    )
    .await;
    // Nine calls at once over three instances, two in parallel for the deployment: all
    // answered, never more than two at the vendor.
    let calls = (0..9).map(|i| c.call(i % 3, &keys[0]));
    let statuses = futures_util::future::join_all(calls).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(
        c.mock.observations().max_in_flight(),
        2,
        "the vendor saw at most the limit, and the limit was used"
    );
}

#[tokio::test]
async fn a_providers_rate_holds_across_instances() {
    let Some(redis) = redis_server().await else {
        return;
    };
    let setup = Setup {
        limits: openai_limits(Some(6), None),
        queue_timeout_ms: Some(300),
        ..Setup::default()
    };
    let (c, keys) = cluster_with(
        "provider-rate",
        2,
        Some(&redis.url()),
        &[("team", 100_000)],
        setup,
    )
    .await;
    // Six a minute for the deployment: six of twelve over two instances reach the vendor; the
    // rest are refused at once (their slot is past the 300 ms queue) with when to retry.
    assert_eq!(admitted(&c, &keys[0], 12).await, 6);
    assert_eq!(c.mock.requests().len(), 6);
    let r = c
        .http
        .post(format!("{}/v1/chat/completions", c.instances[1].1))
        .bearer_auth(&keys[0])
        .json(&json!({"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let after: f64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1.0..=10.0).contains(&after), "retry in {after} s");
}

#[tokio::test]
async fn a_providers_tokens_per_minute_hold_across_instances() {
    let Some(redis) = redis_server().await else {
        return;
    };
    let setup = Setup {
        queue_timeout_ms: Some(300),
        ..Setup::default()
    };
    let (c, keys) = cluster_with(
        "provider-tpm",
        2,
        Some(&redis.url()),
        &[("team", 100_000)],
        setup,
    )
    .await;
    // What one call uses, by the vendor's count.
    let first: Value = c
        .http
        .post(format!("{}/v1/chat/completions", c.instances[0].1))
        .bearer_auth(&keys[0])
        .json(&call_body())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let used = first["usage"]["total_tokens"].as_u64().unwrap();
    // Just under three calls' worth a minute for the deployment, set on A, seen by B.
    let tpm = u32::try_from(3 * used - 1).unwrap();
    let limits = openai_limits(None, None).map(|l| concord_models::ProviderLimits {
        tokens_per_minute: Some(tpm),
        ..l
    });
    c.instances[0]
        .0
        .models
        .set_limits(&limits.unwrap())
        .await
        .unwrap();
    for _ in 0..50 {
        let seen = c.instances[1].0.models.limits("openai");
        if seen.and_then(|l| l.tokens_per_minute) == Some(tpm) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Tokens are debited when a call ends: three calls spend the minute, over both instances.
    let before = c.mock.requests().len();
    let mut statuses = Vec::new();
    for i in 0..8 {
        statuses.push(c.call(i % 2, &keys[0]).await);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(c.mock.requests().len() - before, 3, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 5);
}
