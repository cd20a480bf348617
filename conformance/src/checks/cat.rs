//! CAT: the model database — concord-models', or the subject's own ([`Subject::models`]) —
//! metering the subject's calls against its mock vendor: what each call costs (against the
//! hand-computed costs of `fixtures/costs.json`), the price snapshot a record keeps, the
//! lifecycle, the default model, the model database's limits at the vendor, streams and cut streams.
//!
//! [`Subject::models`]: crate::Subject::models

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use concord::{ErrorKind, Provider, Request, RuntimeContext};
use concord_models::{CallRecord, Model, Price, PriceSet, Prices, ProviderLimits, Status};
use futures_util::StreamExt;
use serde_json::Value;

use crate::cx::Cx;
use crate::outcome::{CheckResultOf, Outcome};
use crate::under_test::ModelsUnderTest;
use crate::{expect_eq, fail};

/// The name the checks file the subject's provider under.
const NAME: &str = "cat-subject";

/// A folder of one check's own, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(cx: &Cx<'_>) -> CheckResultOf<Scratch> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "concord-cat-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        cx.subject.name.replace(['/', ' '], "_")
    ));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Outcome::Fail(format!("cannot make a scratch folder: {e}")))?;
    Ok(Scratch(dir))
}

async fn open(cx: &Cx<'_>, dir: &Scratch) -> CheckResultOf<Arc<dyn ModelsUnderTest>> {
    (cx.subject.models)(&dir.0)
        .await
        .map_err(|e| Outcome::Fail(format!("cannot open the model database: {e}")))
}

fn money(text: &str) -> Price {
    Price::per_million(text).expect("a price in fixtures/costs.json")
}

fn set(v: &Value) -> PriceSet {
    let p = |k: &str| v.get(k).and_then(Value::as_str).map(money);
    PriceSet {
        input: p("input").unwrap_or_default(),
        output: p("output").unwrap_or_default(),
        cache_read: p("cache_read"),
        cache_write: p("cache_write"),
        cache_write_1h: p("cache_write_1h"),
        reasoning: p("reasoning"),
    }
}

fn prices(v: &Value) -> Prices {
    Prices {
        base: set(v),
        above: v
            .get("above")
            .map(|a| (a["threshold"].as_u64().unwrap_or(0), set(a))),
    }
}

fn model(cx: &Cx<'_>, prices: Prices, status: Status, replaced_by: Option<&str>) -> Model {
    Model {
        status,
        replaced_by: replaced_by.map(str::to_owned),
        ..Model::new(NAME, cx.subject.model.clone(), prices, "conformance")
    }
}

fn ok<T>(what: &str, r: Result<T, String>) -> CheckResultOf<T> {
    r.map_err(|e| Outcome::Fail(format!("{what}: {e}")))
}

/// The hand-computed cases of `fixtures/costs.json` for this subject's protocol.
fn cases(cx: &Cx<'_>) -> CheckResultOf<(Value, Vec<Value>)> {
    let path = cx.fixtures.root().join("costs.json");
    let data: Value = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .ok_or_else(|| Outcome::Fail(format!("cannot read {}", path.display())))?;
    let prefix = format!("{}/", cx.protocol().name());
    let cases = data["cases"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| {
            c.get("fixture")
                .and_then(Value::as_str)
                .is_some_and(|f| f.starts_with(&prefix))
        })
        .cloned()
        .collect();
    Ok((data["prices"].clone(), cases))
}

async fn stream_through(
    p: &dyn Provider,
    request: &Request,
    ctx: &RuntimeContext,
) -> Result<(), concord::Error> {
    let mut s = p.stream(request, ctx).await?;
    while let Some(e) = s.next().await {
        e?;
    }
    Ok(())
}

fn last(records: &[CallRecord]) -> CheckResultOf<&CallRecord> {
    records
        .last()
        .ok_or_else(|| Outcome::Fail("no call was recorded".into()))
}

/// CAT-001: each call's recorded cost is the hand-computed cost of the usage the mock reported.
pub async fn cat_001(cx: &Cx<'_>) -> CheckResultOf {
    let (price_sets, cases) = cases(cx)?;
    if cases.is_empty() {
        return Err(Outcome::Skip(format!(
            "fixtures/costs.json has no case for {}",
            cx.protocol().name()
        )));
    }
    let dir = scratch(cx)?;
    let models = open(cx, &dir).await?;
    let p = models.wrap(cx.subject.provider.clone(), NAME);
    for case in &cases {
        let fixture = case["fixture"].as_str().unwrap_or_default();
        let scenario = fixture.rsplit('/').next().unwrap_or_default();
        let set_name = case["prices"].as_str().unwrap_or_default();
        let want = case["total"].as_str();
        // Behind a server the client meters the usage its door carries: a case whose usage
        // the door's format cannot hold (cache writes in OpenAI's, reasoning in Anthropic's)
        // is priced by the server's own record instead (SRV-003).
        if let Some(door) = cx.subject.door() {
            let vendor = cx.vendor_expected(scenario)?.usage;
            if door.carried(&vendor) != vendor {
                continue;
            }
        }
        ok(
            "saving the model",
            models
                .save(model(
                    cx,
                    prices(&price_sets[set_name]),
                    Status::Active,
                    None,
                ))
                .await,
        )?;
        let mock = cx.mock(scenario).await?;
        let ctx = cx.ctx(&mock);
        if let Err(e) = p.generate(&Request::user("hi"), &ctx).await {
            fail!("{fixture}: the call failed: {e}");
        }
        let records = ok("reading the records", models.records().await)?;
        let got = last(&records)?.cost.map(|c| c.dollars());
        expect_eq!(
            format!(
                "{fixture} at {set_name} ({})",
                case["work"].as_str().unwrap_or_default()
            ),
            got.as_deref(),
            want
        );
    }
    Ok(())
}

/// CAT-002: a record keeps the prices of its moment: editing a price changes new calls only.
pub async fn cat_002(cx: &Cx<'_>) -> CheckResultOf {
    let dir = scratch(cx)?;
    let models = open(cx, &dir).await?;
    let p = models.wrap(cx.subject.provider.clone(), NAME);
    let mock = cx.mock("text").await?;
    let ctx = cx.ctx(&mock);
    let cheap = Prices {
        base: PriceSet {
            input: money("1"),
            output: money("2"),
            ..PriceSet::default()
        },
        above: None,
    };
    let dear = Prices {
        base: PriceSet {
            input: money("10"),
            output: money("20"),
            ..PriceSet::default()
        },
        above: None,
    };
    ok(
        "saving the model",
        models.save(model(cx, cheap, Status::Active, None)).await,
    )?;
    if let Err(e) = p.generate(&Request::user("hi"), &ctx).await {
        fail!("the first call failed: {e}");
    }
    let before = ok("reading the records", models.records().await)?;
    let first = last(&before)?.clone();
    ok(
        "editing the price",
        models.save(model(cx, dear, Status::Active, None)).await,
    )?;
    if let Err(e) = p.generate(&Request::user("hi"), &ctx).await {
        fail!("the second call failed: {e}");
    }
    let after = ok("reading the records", models.records().await)?;
    let Some(old) = after.iter().find(|r| r.id == first.id) else {
        fail!("the first call's record is gone after a price edit");
    };
    expect_eq!("the old record after the edit", old, &first);
    expect_eq!("the old record's prices", old.prices, Some(cheap));
    let new = last(&after)?;
    expect_eq!("the new call's prices", new.prices, Some(dear));
    let (Some(a), Some(b)) = (first.cost, new.cost) else {
        fail!("a call without a cost: {first:?} / {new:?}");
    };
    if b.0 != a.0 * 10 {
        fail!(
            "the same usage at ten times the prices cost {} then {}",
            a.dollars(),
            b.dollars()
        );
    }
    Ok(())
}

/// CAT-003: a deprecated model works and warns naming its replacement; an inactive one is
/// refused before anything reaches the vendor.
pub async fn cat_003(cx: &Cx<'_>) -> CheckResultOf {
    let dir = scratch(cx)?;
    let models = open(cx, &dir).await?;
    let p = models.wrap(cx.subject.provider.clone(), NAME);
    let mock = cx.mock("text").await?;
    let ctx = cx.ctx(&mock);
    let replacement = format!("{NAME}/successor-model");
    let deprecated = model(
        cx,
        Prices::default(),
        Status::Deprecated,
        Some(&replacement),
    );
    ok("deprecating the model", models.save(deprecated).await)?;
    if let Err(e) = p.generate(&Request::user("hi"), &ctx).await {
        fail!("a deprecated model must still work: {e}");
    }
    let warnings = models.warnings();
    if !warnings.iter().any(|w| w.contains(&replacement)) {
        fail!("no warning naming the replacement {replacement}: {warnings:?}");
    }
    let inactive = model(cx, Prices::default(), Status::Inactive, Some(&replacement));
    ok("taking the model out of use", models.save(inactive).await)?;
    let sent = mock.requests().len();
    match p.generate(&Request::user("hi"), &ctx).await {
        Err(e) if !e.retryable && e.message.contains(&replacement) => {}
        Err(e) => fail!("an inactive model's refusal must be final and name {replacement}: {e}"),
        Ok(_) => fail!("a call to an inactive model was answered"),
    }
    if cx.caps().streaming
        && stream_through(p.as_ref(), &Request::user("hi"), &ctx)
            .await
            .is_ok()
    {
        fail!("a stream to an inactive model was answered");
    }
    expect_eq!(
        "requests at the vendor for the inactive model",
        mock.requests().len(),
        sent
    );
    Ok(())
}

/// CAT-004: a call that names no model gets the purpose's default.
pub async fn cat_004(cx: &Cx<'_>) -> CheckResultOf {
    let dir = scratch(cx)?;
    let models = open(cx, &dir).await?;
    let p = models.wrap(cx.subject.provider.clone(), NAME);
    let mock = cx.mock("echo").await?;
    let default = model(cx, Prices::default(), Status::Active, None);
    let id = default.id.clone();
    ok("saving the model", models.save(default).await)?;
    ok(
        "setting the default",
        models.set_default("default", NAME, &id).await,
    )?;
    let mut ctx = cx.ctx(&mock);
    ctx.model = None;
    if let Err(e) = p.generate(&Request::user("hi"), &ctx).await {
        fail!("a call without a model failed although a default is set: {e}");
    }
    let sent = mock.requests();
    let Some(r) = sent.last() else {
        fail!("nothing reached the vendor");
    };
    expect_eq!("the model at the vendor", r.model(), Some(id.clone()));
    let records = ok("reading the records", models.records().await)?;
    expect_eq!("the model recorded", last(&records)?.model, id);
    Ok(())
}

/// CAT-005: a provider's parallelism and rate edited in the model database hold at the vendor within
/// the documented delay, without a restart.
pub async fn cat_005(cx: &Cx<'_>) -> CheckResultOf {
    let dir = scratch(cx)?;
    let models = open(cx, &dir).await?;
    let p = models.wrap(cx.subject.provider.clone(), NAME);
    let mock = cx.mock_slow("text", Duration::from_millis(150)).await?;
    let ctx = cx.ctx(&mock);
    ok(
        "saving the model",
        models
            .save(model(cx, Prices::default(), Status::Active, None))
            .await,
    )?;
    ok(
        "setting the limits",
        models
            .set_limits(ProviderLimits {
                provider: NAME.into(),
                max_parallel: Some(1),
                ..ProviderLimits::default()
            })
            .await,
    )?;
    tokio::time::sleep(models.limits_delay()).await;
    let request = Request::user("hi");
    let calls = (0..3).map(|_| p.generate(&request, &ctx));
    for r in futures_util::future::join_all(calls).await {
        if let Err(e) = r {
            fail!("a call under the model database's cap failed: {e}");
        }
    }
    expect_eq!(
        "calls at the vendor at once under a cap of 1",
        mock.observations().max_in_flight(),
        1
    );
    ok(
        "setting the rate",
        models
            .set_limits(ProviderLimits {
                provider: NAME.into(),
                requests_per_minute: Some(1),
                ..ProviderLimits::default()
            })
            .await,
    )?;
    tokio::time::sleep(models.limits_delay()).await;
    if let Err(e) = p.generate(&Request::user("hi"), &ctx).await {
        fail!("the first call at one a minute failed: {e}");
    }
    let sent = mock.requests().len();
    match p.generate(&Request::user("hi"), &ctx).await {
        Err(e) if e.kind == ErrorKind::RateLimited && e.retry_after.is_some_and(|d| d > Duration::from_secs(20)) => {}
        other => fail!("a second call within the minute must be refused with rate_limited and a retry_after near a minute: {other:?}"),
    }
    expect_eq!(
        "requests at the vendor past the rate",
        mock.requests().len(),
        sent
    );
    Ok(())
}

/// CAT-006: a stream costs what the same exchange costs generated; a stream cut before its
/// usage is recorded with its outcome and no cost.
pub async fn cat_006(cx: &Cx<'_>) -> CheckResultOf {
    cx.require(cx.caps().streaming, "streaming")?;
    let dir = scratch(cx)?;
    let models = open(cx, &dir).await?;
    let p = models.wrap(cx.subject.provider.clone(), NAME);
    let prices = Prices {
        base: PriceSet {
            input: money("3"),
            output: money("15"),
            cache_read: Some(money("0.3")),
            cache_write: Some(money("3.75")),
            cache_write_1h: Some(money("6")),
            reasoning: None,
        },
        above: None,
    };
    ok(
        "saving the model",
        models.save(model(cx, prices, Status::Active, None)).await,
    )?;
    let mock = cx.mock("cached_usage").await?;
    let ctx = cx.ctx(&mock);
    if let Err(e) = p.generate(&Request::user("hi"), &ctx).await {
        fail!("generate failed: {e}");
    }
    if let Err(e) = stream_through(p.as_ref(), &Request::user("hi"), &ctx).await {
        fail!("the stream failed: {e}");
    }
    let records = ok("reading the records", models.records().await)?;
    let [.., generated, streamed] = records.as_slice() else {
        fail!("two calls, {} records", records.len());
    };
    expect_eq!(
        "streamed",
        (generated.stream, streamed.stream),
        (false, true)
    );
    if generated.cost.is_none() {
        fail!("the generated call has no cost: {generated:?}");
    }
    expect_eq!("the stream's cost", streamed.cost, generated.cost);
    let cut = cx.mock("truncated").await?;
    let cut_ctx = cx.ctx(&cut);
    if stream_through(p.as_ref(), &Request::user("hi"), &cut_ctx)
        .await
        .is_ok()
    {
        fail!("a truncated stream ended cleanly");
    }
    let records = ok("reading the records", models.records().await)?;
    let r = last(&records)?;
    expect_eq!(
        "the cut stream's outcome",
        r.outcome.as_str(),
        "stream_interrupted"
    );
    expect_eq!("the cut stream's cost", r.cost, None);
    Ok(())
}
