//! The model database's provider limits reach a running registry's dispatchers: an edit in the
//! model database is enforced at the vendor without a restart, and calls in flight are not dropped.

use std::sync::Arc;
use std::time::Duration;

use concord::{Provider, Request};
use concord_harness::{MockConfig, MockVendor, Protocol};
use concord_models::{Models, ProviderLimits, SqlStore};
use concord_registry::{Options, Registry, Sources};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_limits_reach_the_dispatcher_without_a_restart() {
    let mock = MockVendor::start_with(
        MockConfig::new(Protocol::Openai).latency(Duration::from_millis(150)),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("concord.toml");
    std::fs::write(
        &file,
        format!(
            "[providers.local]\ntype = \"openai-compatible\"\nbase_url = \"{}\"\ncredential = {{ env = \"K\" }}\nmodel = \"m\"\n[dispatcher]\nbreaker = false\nretries = 0\n",
            mock.base_url()
        ),
    )
    .unwrap();
    let vars = [("K", "k-12345678")];
    let settings = concord_registry::load(&Sources::with_vars(Some(file), &vars)).unwrap();
    let mut options = Options::from_settings(&settings, reqwest::Client::new());
    options.env = Arc::new(|n| (n == "K").then(|| "k-12345678".to_owned()));
    let registry = Registry::new(options);
    registry.discover_all(&settings).await;
    let store = SqlStore::open(&format!("sqlite://{}", dir.path().join("c.db").display()))
        .await
        .unwrap();
    let models = Arc::new(Models::open(Arc::new(store)).await.unwrap());
    registry.follow_models(models.clone(), Duration::from_millis(50));

    let burst = |n: usize| {
        let handle = registry.get("local").unwrap();
        async move {
            let calls = (0..n).map(|_| {
                let h = handle.clone();
                async move {
                    let ctx = h.context();
                    h.generate(&Request::user("hi"), &ctx).await
                }
            });
            futures_util::future::join_all(calls).await
        }
    };
    for r in burst(3).await {
        r.unwrap();
    }
    assert_eq!(mock.observations().max_in_flight(), 3, "no cap yet");

    models
        .set_limits(&ProviderLimits {
            provider: "local".into(),
            max_parallel: Some(1),
            ..ProviderLimits::default()
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    mock.observations().clear();
    for r in burst(3).await {
        r.unwrap();
    }
    assert_eq!(
        mock.observations().max_in_flight(),
        1,
        "the model database's cap holds"
    );

    // A rate of one a minute: the second call is refused at once, saying when to come back.
    models
        .set_limits(&ProviderLimits {
            provider: "local".into(),
            requests_per_minute: Some(1),
            ..ProviderLimits::default()
        })
        .await
        .unwrap();
    // Applied now rather than at the next tick (whichever comes first, it holds).
    registry.apply_limits_from(&models);
    let results = burst(1).await;
    results[0].as_ref().unwrap();
    let e = burst(1).await.remove(0).unwrap_err();
    assert_eq!(e.kind, concord::ErrorKind::RateLimited, "{e}");
    assert!(e.retry_after.unwrap() > Duration::from_secs(30), "{e:?}");
    registry.shutdown().await;
}
