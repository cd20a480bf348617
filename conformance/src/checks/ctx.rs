//! CTX: per-user runtime contexts — concord-registry's store, or the subject's own
//! ([`Subject::runtimes`]) — resolving each user's calls of the subject's provider against its
//! mock vendor.
//!
//! [`Subject::runtimes`]: crate::Subject::runtimes

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use concord::{Credential, Parameters, Provider, Request, RuntimeContext};
use concord_harness::{probe, MockVendor, RecordedRequest};
use concord_registry::{ManualClock, RuntimesConfig, UserRuntime};

use crate::cx::Cx;
use crate::outcome::{CheckResultOf, Outcome};
use crate::under_test::RuntimesUnderTest;
use crate::{expect_eq, fail};

fn store(cx: &Cx<'_>, config: RuntimesConfig) -> Arc<dyn RuntimesUnderTest> {
    (cx.subject.runtimes)(config)
}

/// User `i`'s runtime: their own model, temperature and key, pointed at `mock`.
fn runtime(cx: &Cx<'_>, mock: &MockVendor, i: usize, model: &str) -> UserRuntime {
    let mut rt = UserRuntime::new("subject", model);
    rt.settings = Parameters {
        temperature: Some(temperature(i)),
        max_output_tokens: Some(256),
        ..Parameters::default()
    };
    rt.credential = Some(Credential::new(key(i)));
    rt.base_url = Some(cx.mock_base_url(mock));
    rt
}

fn temperature(i: usize) -> f64 {
    (i % 20) as f64 / 10.0
}

fn key(i: usize) -> String {
    format!("sk-user-{i:03}-0123456789")
}

fn model_of(i: usize, version: u32) -> String {
    format!("model-u{i}-v{version}")
}

/// Whether `req` names `model` (in the body, or in the path where the protocol puts it there).
fn carries_model(req: &RecordedRequest, model: &str) -> bool {
    req.body.get("model").and_then(|m| m.as_str()) == Some(model)
        || req
            .path
            .split('/')
            .any(|seg| seg == model || seg.starts_with(&format!("{model}:")))
}

async fn call(cx: &Cx<'_>, ctx: &RuntimeContext) -> CheckResultOf {
    cx.subject
        .provider
        .generate(&Request::user("hi"), ctx)
        .await
        .map(|_| ())
        .map_err(|e| Outcome::Fail(format!("a user's call failed: {e}")))
}

fn context(rt: &dyn RuntimesUnderTest, cx: &Cx<'_>, user: &str) -> CheckResultOf<RuntimeContext> {
    rt.context(user, cx.client())
        .map(|c| c.timeout(crate::cx::CALL_TIMEOUT))
        .map_err(|e| Outcome::Fail(format!("user {user} has no context: {e}")))
}

/// Every request at `mock` since `from` carries the settings of the user its key names, and
/// the model of `version`.
fn each_on_the_wire_is_its_users(
    cx: &Cx<'_>,
    seen: &[RecordedRequest],
    users: usize,
    version: u32,
) -> CheckResultOf {
    let by_key: BTreeMap<String, usize> = (0..users).map(|i| (key(i), i)).collect();
    // Each user made the same number of calls: as many requests must carry each one's key (a
    // store that mixes users up puts one user's runtime on another's calls).
    let mut per_user = vec![0usize; users];
    for req in seen {
        if let Some(i) = req.credential.as_ref().and_then(|k| by_key.get(k)) {
            per_user[*i] += 1;
        }
    }
    let each = seen.len() / users.max(1);
    if let Some(i) = per_user.iter().position(|n| *n != each) {
        fail!(
            "user {i}'s key reached the vendor on {} of their {each} calls (keys per user: {per_user:?}): calls ran with another user's runtime",
            per_user[i]
        );
    }
    for req in seen {
        let Some(i) = req.credential.as_ref().and_then(|k| by_key.get(k)).copied() else {
            fail!(
                "a request with no user's key reached the vendor: {:?}",
                req.credential
            );
        };
        let model = model_of(i, version);
        if !carries_model(req, &model) {
            fail!(
                "user {i}'s call did not carry their model {model}: {} {}",
                req.path,
                req.body
            );
        }
        let t = probe::param(cx.protocol(), &req.body, "temperature").and_then(|v| v.as_f64());
        if t.map(|t| (t - temperature(i)).abs() > 1e-9).unwrap_or(true) {
            fail!(
                "user {i}'s call carried temperature {t:?}, not theirs ({})",
                temperature(i)
            );
        }
    }
    Ok(())
}

pub async fn ctx_001(cx: &Cx<'_>) -> CheckResultOf {
    cx.per_runtime()?;
    const USERS: usize = 12;
    let mock = cx.mock("text").await?;
    let rt = store(cx, RuntimesConfig::default());
    let user = |i: usize| format!("user-{i}");
    // Every user sets their runtime and calls twice, all at once.
    let phase = |version: u32| {
        let rt = rt.clone();
        let mock = &mock;
        futures_util::future::join_all((0..USERS).map(move |i| {
            let rt = rt.clone();
            async move {
                if version == 1 {
                    rt.set(&user(i), runtime(cx, mock, i, &model_of(i, 1)));
                } else {
                    let m = model_of(i, version);
                    rt.update(
                        &user(i),
                        Box::new(move |old| UserRuntime {
                            model: m,
                            ..old.clone()
                        }),
                    )
                    .map_err(|e| Outcome::Fail(format!("user {i}'s update failed: {e}")))?;
                }
                tokio::task::yield_now().await;
                for _ in 0..2 {
                    let ctx = context(rt.as_ref(), cx, &user(i))?;
                    call(cx, &ctx).await?;
                }
                Ok::<_, Outcome>(())
            }
        }))
    };
    for r in phase(1).await {
        r?;
    }
    let first = mock.requests();
    expect_eq!("calls at the vendor", first.len(), 2 * USERS);
    each_on_the_wire_is_its_users(cx, &first, USERS, 1)?;
    for r in phase(2).await {
        r?;
    }
    let all = mock.requests();
    expect_eq!("calls at the vendor", all.len(), 4 * USERS);
    each_on_the_wire_is_its_users(cx, &all[2 * USERS..], USERS, 2)
}

pub async fn ctx_002(cx: &Cx<'_>) -> CheckResultOf {
    let mock = cx.mock("text").await?;
    let clock = ManualClock::new();
    let ttl = Duration::from_secs(3600);
    let rt = store(
        cx,
        RuntimesConfig {
            idle_ttl: ttl,
            clock: Arc::new(clock.clone()),
            ..RuntimesConfig::default()
        },
    );
    let mut events = rt.events();
    rt.set("active", runtime(cx, &mock, 0, &model_of(0, 1)));
    rt.set("idle", runtime(cx, &mock, 1, &model_of(1, 1)));
    clock.advance(ttl - Duration::from_secs(1));
    let ctx = context(rt.as_ref(), cx, "active")?;
    call(cx, &ctx).await?;
    clock.advance(Duration::from_secs(2));
    // "active" was used a second ago; "idle" not for the whole TTL.
    context(rt.as_ref(), cx, "active")?;
    if let Ok(ctx) = rt.context("idle", cx.client()) {
        fail!(
            "a runtime idle past the TTL still resolved (model {:?}); it must be evicted",
            ctx.model
        );
    }
    clock.advance(ttl);
    rt.run_pending();
    expect_eq!("users kept after everyone idled", rt.len(), 0);
    let mut evicted: Vec<(String, &str)> = std::iter::from_fn(|| events.try_recv().ok())
        .map(|e| (e.user, e.cause))
        .collect();
    evicted.sort();
    expect_eq!(
        "eviction events",
        evicted,
        vec![("active".to_owned(), "idle"), ("idle".to_owned(), "idle")]
    );
    Ok(())
}

pub async fn ctx_003(cx: &Cx<'_>) -> CheckResultOf {
    let mock = cx.mock("text").await?;
    let cap = 25u64;
    let rt = store(
        cx,
        RuntimesConfig {
            max_users: cap,
            ..RuntimesConfig::default()
        },
    );
    let mut events = rt.events();
    for i in 0..400 {
        rt.set(&format!("user-{i}"), runtime(cx, &mock, i, &model_of(i, 1)));
    }
    rt.run_pending();
    let kept = rt.len();
    if kept > cap {
        fail!("{kept} runtimes kept with a cap of {cap}");
    }
    let capacity = std::iter::from_fn(|| events.try_recv().ok())
        .filter(|e| e.cause == "capacity")
        .count();
    if capacity == 0 {
        fail!("runtimes left for the cap without a `capacity` eviction event");
    }
    Ok(())
}

pub async fn ctx_004(cx: &Cx<'_>) -> CheckResultOf {
    let mock = cx.mock("text").await?;
    let rt = store(cx, RuntimesConfig::default());
    rt.set("ann", runtime(cx, &mock, 0, &model_of(0, 1)));
    let session = rt
        .pin("ann")
        .map_err(|e| Outcome::Fail(format!("cannot pin ann's runtime: {e}")))?;
    rt.update(
        "ann",
        Box::new(|old| UserRuntime {
            model: model_of(0, 2),
            ..old.clone()
        }),
    )
    .map_err(|e| Outcome::Fail(format!("ann's update failed: {e}")))?;
    call(cx, &session(cx.client()).timeout(crate::cx::CALL_TIMEOUT)).await?;
    call(cx, &context(rt.as_ref(), cx, "ann")?).await?;
    let seen = mock.requests();
    expect_eq!("calls at the vendor", seen.len(), 2);
    if !carries_model(&seen[0], &model_of(0, 1)) {
        fail!(
            "the pinned session's call did not keep the model it was created with: {} {}",
            seen[0].path,
            seen[0].body
        );
    }
    if !carries_model(&seen[1], &model_of(0, 2)) {
        fail!("ann's new call did not carry her new model");
    }
    Ok(())
}
