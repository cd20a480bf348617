//! A tenant's budget across instances: one account in Redis, and each instance's share of what
//! is left while Redis is away.

use super::*;

/// Calls at once over the instances in turn (at least 300 ms each at the vendor, so all are in
/// flight together) whose worst cases fit three at a time in the tenant's budget: (answered,
/// refused, what the answered cost by the records).
async fn budget_round(redis: Option<&str>, test: &str) -> (usize, usize, i64) {
    // The worst case of a call at gpt-4o-mini's $0.15 / $0.60 per million, in picodollars:
    // its body's bytes as input tokens, 5 output tokens (docs/server.md, budgets).
    let most = serde_json::to_vec(&call_body()).unwrap().len() as i64 * 150_000 + 5 * 600_000;
    let budget = concord_models::Money(3 * most + most / 2);
    let setup = Setup {
        latency: Duration::from_millis(300),
        budget: Some(budget),
        ..Setup::default()
    };
    let (c, keys) = cluster_with(test, 3, redis, &[("team", 100_000)], setup).await;
    let calls = (0..12).map(|i| c.call(i % 3, &keys[0]));
    let statuses = futures_util::future::join_all(calls).await;
    let answered = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(answered + refused, 12, "{statuses:?}");
    let mut cost = 0;
    for (s, _) in &c.instances {
        s.recorder.flush().await;
    }
    // One database: every instance's records are in it.
    for r in c.instances[0].0.models.store().calls(0).await.unwrap() {
        cost += r.cost.map_or(0, |m| m.0);
    }
    assert!(cost > 0);
    (answered, refused, cost)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_each_instance_spends_a_tenants_whole_budget() {
    // The failure shown: three instances, each admits the three worst cases that fit.
    let (answered, _, _) = budget_round(None, "budget-alone").await;
    assert_eq!(answered, 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_budget_holds_across_instances_sharing_redis() {
    let Some(redis) = redis_server().await else {
        return;
    };
    let (answered, refused, cost) = budget_round(Some(&redis.url()), "budget-shared").await;
    // Three worst cases fit in the budget at once, whichever instances hold them.
    assert_eq!((answered, refused), (3, 9));
    // Settled in Redis: the account holds what the records say was spent, nothing reserved.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("concord:budget:team:*")
        .query_async(&mut conn)
        .await
        .unwrap();
    let account = keys.iter().find(|k| !k.ends_with(":leases")).unwrap();
    for _ in 0..50 {
        let (spent, reserved): (i64, i64) = redis::cmd("HMGET")
            .arg(account)
            .arg("spent")
            .arg("reserved")
            .query_async(&mut conn)
            .await
            .unwrap();
        if reserved == 0 {
            assert_eq!(spent, cost, "the account's spend is the records'");
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("reservations still held a second after every call ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_gone_each_instance_spends_only_its_share_of_whats_left() {
    let Some(mut redis) = redis_server().await else {
        return;
    };
    let most = serde_json::to_vec(&call_body()).unwrap().len() as i64 * 150_000 + 5 * 600_000;
    let setup = Setup {
        latency: Duration::from_millis(300),
        budget: Some(concord_models::Money(4 * most + most / 2)),
        ..Setup::default()
    };
    let (c, keys) = cluster_with(
        "budget-outage",
        2,
        Some(&redis.url()),
        &[("team", 100_000)],
        setup,
    )
    .await;
    redis.kill();
    c.until("every instance notices Redis is gone", |s| {
        !s.state().shared
    })
    .await;
    // Four and a half worst cases left over two instances: two at once on each, never more.
    let calls = (0..8).map(|i| c.call(i % 2, &keys[0]));
    let statuses = futures_util::future::join_all(calls).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        4,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        4,
        "{statuses:?}"
    );
}
