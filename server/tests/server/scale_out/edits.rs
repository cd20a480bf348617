//! What one instance (or the CLI) changes is what the others use next: prices, tenants, users'
//! runtimes.

use super::*;

#[tokio::test]
async fn an_edit_on_one_instance_is_used_by_the_others_at_once() {
    let Some(redis) = redis_server().await else {
        return;
    };
    let (c, keys) = cluster("edits", 2, Some(&redis.url()), &[("team", 1000)]).await;
    let (a, b) = (&c.instances[0].0, &c.instances[1].0);
    // A price edit on A: B charges it (B re-reads only when told: no interval).
    let mut m = (*a.models.get("openai", "gpt-4o-mini").unwrap()).clone();
    m.prices.base.input = concord_models::Price::per_million("7").unwrap();
    a.models.save(&m).await.unwrap();
    let mut seen = false;
    for _ in 0..50 {
        if b.models
            .get("openai", "gpt-4o-mini")
            .unwrap()
            .prices
            .base
            .input
            .per_million_text()
            == "7"
        {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen, "B saw the price within a second");
    assert_eq!(c.call(1, &keys[0]).await, 200);
    b.recorder.flush().await;
    let last = b.models.store().calls(0).await.unwrap().pop().unwrap();
    assert_eq!(last.prices.unwrap().base.input.per_million_text(), "7");
    // A tenant disabled on A is refused by B.
    a.tenants.set_disabled("team", true).await.unwrap();
    let mut refused = false;
    for _ in 0..50 {
        if c.call(1, &keys[0]).await == 403 {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "B refused the disabled tenant within a second");
}

#[tokio::test]
async fn a_users_runtime_set_on_one_instance_is_used_by_the_next_call_on_another() {
    let Some(mut redis) = redis_server().await else {
        return;
    };
    let (c, keys) = cluster("runtimes", 2, Some(&redis.url()), &[("team", 100_000)]).await;
    let key = &keys[0];
    assert_eq!(c.set_runtime(0, key, "ana", "openai/gpt-4o").await, 200);
    assert_eq!(c.model_used(1, key, "ana").await, "gpt-4o");
    assert_eq!(
        c.set_runtime(0, key, "ana", "openai/gpt-4o-mini").await,
        200
    );
    assert_eq!(
        c.model_used(1, key, "ana").await,
        "gpt-4o-mini",
        "the very next call"
    );
    // Redis gone: B runs with what it last read; a change is refused, not kept on A alone.
    redis.kill();
    c.until("every instance notices Redis is gone", |s| {
        !s.state().shared
    })
    .await;
    assert_eq!(c.model_used(1, key, "ana").await, "gpt-4o-mini");
    assert_eq!(c.set_runtime(0, key, "ana", "openai/gpt-4o").await, 503);
}

#[tokio::test]
async fn an_edit_made_outside_the_instances_is_announced_to_them() {
    let Some(redis) = redis_server().await else {
        return;
    };
    let (c, _) = cluster("announce", 2, Some(&redis.url()), &[("team", 100)]).await;
    // What `concord models set` does: its own handle on the database, then a word in Redis.
    let database = DatabaseSection {
        data_dir: Some(c._dir.0.clone()),
        refresh_secs: 0,
        ..DatabaseSection::default()
    };
    let (cli, _) = database.open_with_store(&|_| None).await.unwrap();
    let mut m = (*cli.get("openai", "gpt-4o-mini").unwrap()).clone();
    m.prices.base.input = concord_models::Price::per_million("9").unwrap();
    cli.save(&m).await.unwrap();
    let price = |i: usize| {
        c.instances[i]
            .0
            .models
            .get("openai", "gpt-4o-mini")
            .unwrap()
            .prices
            .base
            .input
            .per_million_text()
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_ne!(
        price(1),
        "9",
        "not re-read before the word (no interval here)"
    );
    let settings = redis_section(&redis.url(), &Setup::default());
    let told = concord_server::shared::announce(&settings, None, "models")
        .await
        .unwrap();
    assert_eq!(told, 2, "both instances listen");
    for _ in 0..50 {
        if (0..2).all(|i| price(i) == "9") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the instances did not re-read within a second of the word");
}
