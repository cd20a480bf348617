use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;

use super::*;

/// One client for every test: building one loads the TLS roots.
fn shared_client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(reqwest::Client::new).clone()
}

fn store() -> Runtimes {
    Runtimes::new(RuntimesConfig::default())
}

#[test]
fn each_user_has_their_own_runtime_and_no_global_fallback() {
    let runtimes = store();
    let client = shared_client();
    runtimes.set("alice", UserRuntime::new("gemini", "gemini-2.5-flash"));
    runtimes.set("bob", UserRuntime::new("anthropic", "claude-haiku-4-5"));
    assert_eq!(
        runtimes.context("alice", &client).unwrap().model.as_deref(),
        Some("gemini-2.5-flash")
    );
    let bob = runtimes.context("bob", &client).unwrap();
    assert_eq!(
        (bob.model.as_deref(), bob.tenant.as_deref()),
        (Some("claude-haiku-4-5"), Some("bob"))
    );
    assert!(matches!(
        runtimes.context("carol", &client).unwrap_err(),
        Error::UnknownUser(u) if u == "carol"
    ));
    assert!(matches!(
        runtimes.get_or_default("carol"),
        Err(Error::UnknownUser(_))
    ));

    let with_default = Runtimes::new(RuntimesConfig {
        default_profile: Some(UserRuntime::new("openai", "gpt-4o-mini")),
        ..RuntimesConfig::default()
    });
    assert_eq!(
        with_default.get_or_default("carol").unwrap().model,
        "gpt-4o-mini"
    );
    assert!(with_default.get("carol").is_some(), "made hers, explicitly");
}

#[test]
fn updates_of_one_user_never_interleave() {
    let runtimes = Arc::new(store());
    runtimes.set("alice", UserRuntime::new("openai", "m"));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let r = runtimes.clone();
            std::thread::spawn(move || {
                for _ in 0..200 {
                    r.update("alice", |rt| {
                        let mut next = rt.clone();
                        let n: u64 = next.data.get("n").map_or(0, |n| n.parse().unwrap());
                        next.data.insert("n".into(), (n + 1).to_string());
                        Ok(next)
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        runtimes.get("alice").unwrap().data["n"],
        "1600",
        "no update was lost"
    );
    let refused = runtimes.update("alice", |_| Err("no".into())).unwrap_err();
    assert!(matches!(refused, Error::Refused { .. }));
    assert_eq!(
        runtimes.get("alice").unwrap().data["n"],
        "1600",
        "a refused update changes nothing"
    );
    assert!(matches!(
        runtimes.update("nobody", |rt| Ok(rt.clone())),
        Err(Error::UnknownUser(_))
    ));
}

#[test]
fn a_pinned_session_keeps_its_runtime() {
    let runtimes = store();
    let client = shared_client();
    runtimes.set("alice", UserRuntime::new("gemini", "gemini-2.5-flash"));
    let session = runtimes.pin("alice").unwrap();
    runtimes.set("alice", UserRuntime::new("anthropic", "claude-haiku-4-5"));
    assert_eq!(
        session.context(&client).model.as_deref(),
        Some("gemini-2.5-flash")
    );
    assert_eq!(
        runtimes.context("alice", &client).unwrap().model.as_deref(),
        Some("claude-haiku-4-5")
    );
}

#[test]
fn idle_runtimes_are_evicted_and_the_cap_holds() {
    let clock = ManualClock::new();
    let runtimes = Runtimes::new(RuntimesConfig {
        idle_ttl: Duration::from_secs(3600),
        max_users: 50,
        clock: Arc::new(clock.clone()),
        ..RuntimesConfig::default()
    });
    let mut events = runtimes.events();
    for i in 0..200 {
        runtimes.set(&format!("user-{i}"), UserRuntime::new("openai", "m"));
    }
    assert!(runtimes.len() <= 50, "{} users kept", runtimes.len());
    let kept: Vec<String> = (0..200)
        .map(|i| format!("user-{i}"))
        .filter(|u| runtimes.get(u).is_some())
        .collect();
    assert!(kept.len() >= 2, "{kept:?}");
    clock.advance(Duration::from_secs(3599));
    assert_eq!(
        runtimes.get(&kept[0]).unwrap().model,
        "m",
        "not idle yet; touched now"
    );
    clock.advance(Duration::from_secs(2));
    assert!(runtimes.get(&kept[1]).is_none(), "idle past the TTL");
    assert!(runtimes.get(&kept[0]).is_some(), "touched 2 s ago");
    clock.advance(Duration::from_secs(3600));
    runtimes.run_pending();
    assert_eq!(runtimes.len(), 0, "every runtime idle past the TTL is gone");
    let mut causes = std::collections::BTreeSet::new();
    while let Ok(e) = events.try_recv() {
        causes.insert(e.cause);
    }
    assert!(
        causes.contains("capacity") && causes.contains("idle"),
        "{causes:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Users set and update concurrently; each resolves to exactly their own last settings.
    #[test]
    fn concurrent_users_resolve_to_their_own_settings(users in 2usize..40, rounds in 1usize..20) {
        let runtimes = Arc::new(store());
        let client = shared_client();
        let threads: Vec<_> = (0..users)
            .map(|u| {
                let (r, client) = (runtimes.clone(), client.clone());
                std::thread::spawn(move || {
                    let user = format!("user-{u}");
                    r.set(&user, UserRuntime::new("openai", format!("model-{u}-0")));
                    for round in 1..=rounds {
                        r.update(&user, |rt| {
                            let mut next = rt.clone();
                            next.model = format!("model-{u}-{round}");
                            next.settings.temperature = Some(u as f64 / 64.0);
                            Ok(next)
                        })
                        .unwrap();
                        let ctx = r.context(&user, &client).unwrap();
                        assert_eq!(ctx.tenant.as_deref(), Some(user.as_str()));
                        assert!(ctx.model.as_deref().unwrap().starts_with(&format!("model-{u}-")));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        for u in 0..users {
            let rt = runtimes.get(&format!("user-{u}")).unwrap();
            prop_assert_eq!(&rt.model, &format!("model-{u}-{rounds}"));
            prop_assert_eq!(rt.settings.temperature, Some(u as f64 / 64.0));
        }
    }
}
