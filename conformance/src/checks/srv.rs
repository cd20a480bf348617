//! SRV: what is a server's own business, for a subject behind one (`--through-server`): how
//! its doors refuse, what budgets and records hold under load, what health and metrics say,
//! and that no key leaks. They talk HTTP to the door directly, the way any client would;
//! a subject called directly skips them.

use std::sync::Arc;

use concord_models::{Money, Price, PriceSet, Prices};
use serde_json::{json, Value};

use crate::cx::{Cx, MOCK_KEY};
use crate::outcome::{CheckResultOf, Outcome};
use crate::served::{Door, ServerUnderTest};
use crate::{expect_eq, fail};

/// The server a check's calls go through, with its mock vendor and the model to name there.
struct Setup {
    door: Door,
    server: Arc<dyn ServerUnderTest>,
    model: String,
    mock: concord_harness::MockVendor,
}

impl Setup {
    /// The provider's name as the server has it registered (`up-N`).
    fn provider(&self) -> &str {
        self.model.split_once('/').map_or("", |(p, _)| p)
    }
}

/// Skips a subject that is not behind a server.
fn served(cx: &Cx<'_>) -> CheckResultOf {
    match cx.subject.served {
        Some(_) => Ok(()),
        None => Err(Outcome::Skip(
            "not behind a server: run with --through-server".into(),
        )),
    }
}

/// Skips a check that administers the server (tenants, prices, records, health, metrics,
/// logs) when the suite reaches it only from outside.
fn administered(s: &Setup) -> CheckResultOf {
    if s.server.administered() {
        return Ok(());
    }
    Err(Outcome::Skip(crate::gateway::NOT_ADMINISTERED.into()))
}

async fn setup(cx: &Cx<'_>, mock: concord_harness::MockVendor) -> CheckResultOf<Setup> {
    served(cx)?;
    let through = cx.subject.served.as_ref().expect("checked");
    let ctx = cx.ctx(&mock);
    let (server, model) = through
        .route(&ctx)
        .await
        .map_err(|e| Outcome::Fail(format!("the server: {e}")))?
        .ok_or_else(|| Outcome::Fail("the check's context is incomplete".into()))?;
    Ok(Setup {
        door: through.door(),
        server,
        model,
        mock,
    })
}

/// A one-turn request in the door's format, with `key` as its client sends it.
fn request(
    cx: &Cx<'_>,
    s: &Setup,
    key: Option<&str>,
    stream: bool,
    max_tokens: u32,
) -> reqwest::RequestBuilder {
    let (path, body) = one_turn(cx, s, stream, max_tokens);
    post(cx, s, key, path, &body)
}

/// The path and body of a one-turn request in the door's format.
fn one_turn(cx: &Cx<'_>, s: &Setup, stream: bool, max_tokens: u32) -> (&'static str, Value) {
    // "hi", marked for the check's mock where the server needs it (a gateway configured once).
    let hi = s
        .server
        .mark(&concord::Request::user("hi"), &cx.ctx(&s.mock))
        .and_then(|r| match r.messages.into_iter().next() {
            Some(concord::Message::User { content }) => match content.into_iter().next() {
                Some(concord::ContentPart::Text { text }) => Some(text),
                _ => None,
            },
            _ => None,
        })
        .unwrap_or_else(|| "hi".to_owned());
    match s.door {
        Door::Openai => (
            "/v1/chat/completions",
            json!({"model": s.model, "stream": stream, "max_completion_tokens": max_tokens,
                   "messages": [{"role": "user", "content": hi}]}),
        ),
        Door::Anthropic => (
            "/v1/messages",
            json!({"model": s.model, "stream": stream, "max_tokens": max_tokens,
                   "messages": [{"role": "user", "content": hi}]}),
        ),
    }
}

/// `body` posted to the door's `path` with `key` as its client sends it.
fn post(
    cx: &Cx<'_>,
    s: &Setup,
    key: Option<&str>,
    path: &str,
    body: &Value,
) -> reqwest::RequestBuilder {
    let mut r = cx
        .client()
        .post(format!("{}{path}", s.server.origin()))
        .timeout(crate::cx::CALL_TIMEOUT)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(key) = key {
        r = match s.door {
            Door::Openai => r.bearer_auth(key),
            Door::Anthropic => r.header("x-api-key", key),
        };
    }
    if s.door == Door::Anthropic {
        r = r.header("anthropic-version", "2023-06-01");
    }
    r
}

/// Sends, reading the status, headers and the whole body.
async fn send(
    r: reqwest::RequestBuilder,
) -> CheckResultOf<(u16, reqwest::header::HeaderMap, String)> {
    let resp = r
        .send()
        .await
        .map_err(|e| Outcome::Fail(format!("the server did not answer: {e}")))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .text()
        .await
        .map_err(|e| Outcome::Fail(format!("the server's body: {e}")))?;
    Ok((status, headers, body))
}

/// The error type an error body says, failing unless it has the door's shape.
fn error_type(door: Door, body: &str) -> CheckResultOf<String> {
    let v: Value = serde_json::from_str(body)
        .map_err(|_| Outcome::Fail(format!("the error body is not JSON: {body:?}")))?;
    let (kind, message) = match door {
        // {"error": {"message", "type", "param", "code"}}
        Door::Openai => (v["error"]["type"].as_str(), v["error"]["message"].as_str()),
        // {"type": "error", "error": {"type", "message"}}
        Door::Anthropic => {
            if v["type"] != "error" {
                fail!("an Anthropic error body has type \"error\": {body}");
            }
            (v["error"]["type"].as_str(), v["error"]["message"].as_str())
        }
    };
    match (kind, message) {
        (Some(k), Some(m)) if !m.is_empty() => Ok(k.to_owned()),
        _ => fail!(
            "the error body lacks the {} door's type and message: {body}",
            door.name()
        ),
    }
}

/// Unique in the process: names and keys the checks make up (a recycled port can give two
/// checks' mocks one registration, and every server here logs into one capture).
fn unique() -> usize {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Now, in Unix milliseconds: records of calls from before a check are not its own.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn header<'h>(h: &'h reqwest::header::HeaderMap, name: &str) -> Option<&'h str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// SRV-001: a vendor's rate limit reaches the client as a 429 with `Retry-After` in whole
/// seconds rounded up, the exact wait in `retry-after-ms`, `x-should-retry: true`, in the
/// door's error shape.
pub async fn srv_001(cx: &Cx<'_>) -> CheckResultOf {
    served(cx)?;
    let cases = cx
        .fixtures
        .error_cases(cx.protocol())
        .map_err(|e| Outcome::Fail(e.to_string()))?;
    let Some((case, ms)) = cases.iter().find_map(|c| {
        let ms = c.expect.get("retry_after_ms")?.as_u64()?;
        (c.status == 429 && !c.headers.contains_key("x-should-retry")).then_some((c, ms))
    }) else {
        fail!(
            "the fixtures have no 429 with an exact retry_after for {}",
            cx.protocol()
        );
    };
    let s = setup(cx, cx.mock(&format!("error_{}", case.name)).await?).await?;
    let (status, headers, body) = send(request(cx, &s, Some(s.server.key()), false, 64)).await?;
    expect_eq!("status", status, 429);
    let secs = ms.div_ceil(1000).max(1).to_string();
    if cx.outside_gateway() {
        // Any gateway: the vendor's wait reaches the caller in one of the headers its SDKs
        // read (`retry-after-ms` first, then `Retry-After`), in the door's error shape.
        let exact = header(&headers, "retry-after-ms") == Some(ms.to_string().as_str());
        let rounded = header(&headers, "retry-after") == Some(secs.as_str());
        if !(exact || rounded) {
            fail!("the vendor's wait of {ms} ms is lost: neither retry-after-ms {ms} nor Retry-After {secs} reached the caller");
        }
        // The vendor's own type may pass through (OpenAI's 429s say `requests` or `tokens`).
        error_type(s.door, &body)?;
        return Ok(());
    }
    expect_eq!(
        format!("Retry-After for a wait of {ms} ms"),
        header(&headers, "retry-after"),
        Some(secs.as_str())
    );
    expect_eq!(
        "retry-after-ms",
        header(&headers, "retry-after-ms"),
        Some(ms.to_string().as_str())
    );
    expect_eq!(
        "x-should-retry",
        header(&headers, "x-should-retry"),
        Some("true")
    );
    expect_eq!(
        "the error type",
        error_type(s.door, &body)?,
        "rate_limit_error"
    );
    Ok(())
}

/// SRV-002: a tenant's budget holds under concurrency: eight calls at once, then one at a
/// time until refused; what the records say it spent never exceeds the budget, and a refusal
/// is a 429 naming the budget, only once the next call's worst case no longer fits.
pub async fn srv_002(cx: &Cx<'_>) -> CheckResultOf {
    served(cx)?;
    let mock = cx
        .mock_slow("text", std::time::Duration::from_millis(300))
        .await?;
    let s = setup(cx, mock).await?;
    administered(&s)?;
    let real = cx.vendor_expected("text")?.usage.output_tokens.unwrap_or(0);
    // $0.01 an output token, input free: a call's worst case is its output limit's worth,
    // twice what it really spends, and the budget holds exactly two worst cases.
    let max_tokens = u32::try_from(real.max(8) * 2).unwrap_or(u32::MAX);
    let per_token = Price::per_million("10000").expect("a price");
    let worst = per_token.times(u64::from(max_tokens));
    let budget = Money(worst.0 * 2);
    let (provider, model) = s.model.split_once('/').unwrap_or_default();
    let prices = Prices {
        base: PriceSet {
            input: Price(0),
            output: per_token,
            ..PriceSet::default()
        },
        above: None,
    };
    if let Err(e) = s.server.price(provider, model, prices).await {
        fail!("pricing the model: {e}");
    }
    let name = format!("budget-{}", unique());
    let key = s
        .server
        .tenant(&name, Some(budget))
        .await
        .map_err(|e| Outcome::Fail(format!("creating a tenant with a budget: {e}")))?;
    let burst = futures_util::future::join_all(
        (0..8).map(|_| send(request(cx, &s, Some(&key), false, max_tokens))),
    )
    .await;
    let mut served = 0;
    let mut refusals = Vec::new();
    for r in burst {
        let (status, _, body) = r?;
        match status {
            200 => served += 1,
            _ => refusals.push((status, body)),
        }
    }
    if served == 0 {
        fail!("no call of the burst was served: {refusals:?}");
    }
    if refusals.is_empty() {
        fail!("eight calls worth four budgets' worst cases were all served at once");
    }
    for _ in 0..20 {
        let (status, _, body) = send(request(cx, &s, Some(&key), false, max_tokens)).await?;
        if status != 200 {
            refusals.push((status, body));
            break;
        }
    }
    for (status, body) in &refusals {
        expect_eq!(format!("a refusal's status ({body})"), *status, 429);
        if !body.contains("budget") {
            fail!("a refusal does not say the budget is why: {body}");
        }
    }
    let records = s
        .server
        .records()
        .await
        .map_err(|e| Outcome::Fail(format!("reading the records: {e}")))?;
    let spent: i64 = records
        .iter()
        .filter(|r| r.tenant.as_deref() == Some(name.as_str()))
        .filter_map(|r| r.cost.map(|c| c.0))
        .sum();
    if spent > budget.0 {
        fail!(
            "the tenant spent {} of a {} budget",
            Money(spent).dollars(),
            budget.dollars()
        );
    }
    // The last refusal came when the worst case no longer fitted, not before.
    if spent + worst.0 <= budget.0 {
        fail!(
            "refused with {} spent of {}, although a call's worst case ({}) still fitted",
            Money(spent).dollars(),
            budget.dollars(),
            worst.dollars()
        );
    }
    Ok(())
}

/// SRV-003: every call that reached routing is recorded once, with its tenant, provider,
/// model, stream flag, outcome and the vendor's usage: a call, a stream, a refused call.
pub async fn srv_003(cx: &Cx<'_>) -> CheckResultOf {
    served(cx)?;
    let started = now_ms();
    let s = setup(cx, cx.mock("text").await?).await?;
    administered(&s)?;
    let want = cx.vendor_expected("text")?;
    let key = s.server.key().to_owned();
    for stream in [false, true] {
        let (status, _, body) = send(request(cx, &s, Some(&key), stream, 64)).await?;
        if status != 200 {
            fail!("a call failed ({status}): {body}");
        }
    }
    let cases = cx
        .fixtures
        .error_cases(cx.protocol())
        .map_err(|e| Outcome::Fail(e.to_string()))?;
    let case = cases
        .iter()
        .find(|c| c.status == 400)
        .ok_or_else(|| Outcome::Fail("the fixtures have no 400".into()))?;
    let failing = setup(cx, cx.mock(&format!("error_{}", case.name)).await?).await?;
    let (status, _, _) = send(request(cx, &failing, Some(&key), false, 64)).await?;
    expect_eq!("the failing call's status", status, case.status);
    let records = s
        .server
        .records()
        .await
        .map_err(|e| Outcome::Fail(format!("reading the records: {e}")))?;
    let mine: Vec<_> = records
        .iter()
        .filter(|r| r.at_ms >= started)
        .filter(|r| r.provider == s.provider() || r.provider == failing.provider())
        .collect();
    let seen: Vec<(&str, bool, &str)> = mine
        .iter()
        .map(|r| (r.provider.as_str(), r.stream, r.outcome.as_str()))
        .collect();
    let kind = case.expect["kind"].as_str().unwrap_or_default();
    expect_eq!(
        "the records (provider, stream, outcome)",
        seen,
        vec![
            (s.provider(), false, "ok"),
            (s.provider(), true, "ok"),
            (failing.provider(), false, kind),
        ]
    );
    for r in &mine {
        expect_eq!(
            "a record's tenant",
            r.tenant.as_deref(),
            Some("conformance")
        );
        expect_eq!(
            "a record's model",
            r.model.as_str(),
            cx.subject.model.as_str()
        );
    }
    for r in &mine[..2] {
        expect_eq!(
            format!("the usage recorded (stream: {})", r.stream),
            (r.usage.input_tokens, r.usage.output_tokens),
            (want.usage.input_tokens, want.usage.output_tokens)
        );
    }
    Ok(())
}

/// SRV-004: `/health/live` answers; `/health/ready` is JSON naming the registered provider;
/// `/metrics` is Prometheus text with the provider's request duration and time to first
/// token under the OpenTelemetry gen_ai names, and the server's request counts and times.
pub async fn srv_004(cx: &Cx<'_>) -> CheckResultOf {
    served(cx)?;
    let s = setup(cx, cx.mock("text").await?).await?;
    administered(&s)?;
    let (status, _, body) = send(request(cx, &s, Some(s.server.key()), false, 64)).await?;
    if status != 200 {
        fail!("a call failed ({status}): {body}");
    }
    let get = |path: &str| cx.client().get(format!("{}{path}", s.server.origin()));
    let (live, _, _) = send(get("/health/live")).await?;
    expect_eq!("/health/live status", live, 200);
    let (ready, _, body) = send(get("/health/ready")).await?;
    expect_eq!(format!("/health/ready status ({body})"), ready, 200);
    let health: Value = serde_json::from_str(&body)
        .map_err(|_| Outcome::Fail(format!("/health/ready is not JSON: {body}")))?;
    if !health
        .to_string()
        .contains(&format!("\"{}\"", s.provider()))
    {
        fail!(
            "/health/ready does not name the provider {}: {body}",
            s.provider()
        );
    }
    // A stream too, for its time to first token.
    let (status, _, body) = send(request(cx, &s, Some(s.server.key()), true, 64)).await?;
    if status != 200 {
        fail!("a stream failed ({status}): {body}");
    }
    let (status, _, metrics) = send(get("/metrics")).await?;
    expect_eq!("/metrics status", status, 200);
    let provider = format!("gen_ai_provider_name=\"{}\"", s.provider());
    for series in [
        "gen_ai_server_request_duration",
        "gen_ai_server_time_to_first_token",
    ] {
        let named = metrics
            .lines()
            .any(|l| l.starts_with(series) && l.contains(&provider));
        if !named {
            fail!("/metrics has no {series} series for {}", s.provider());
        }
    }
    for series in [
        "concord_server_requests_total",
        "concord_server_request_duration_seconds",
    ] {
        if !metrics.contains(series) {
            fail!("/metrics has no {series} series");
        }
    }
    Ok(())
}

/// SRV-005: no key anywhere a server shows or keeps: not the tenant's, not a wrong one a
/// client sent, not the vendor's — in error bodies, `/metrics`, `/health/ready` or the logs.
pub async fn srv_005(cx: &Cx<'_>) -> CheckResultOf {
    served(cx)?;
    let s = setup(cx, cx.mock("text").await?).await?;
    administered(&s)?;
    let wrong = format!(
        "sk-wrong-{}-{}-0123456789abcdef",
        std::process::id(),
        unique()
    );
    let mut shown = Vec::new();
    let (_, _, body) = send(request(cx, &s, Some(&wrong), false, 64)).await?;
    shown.push(("the error for a wrong key", body));
    let (_, _, body) = send(request(cx, &s, Some(s.server.key()), true, 64)).await?;
    shown.push(("a stream", body));
    let get = |path: &str| cx.client().get(format!("{}{path}", s.server.origin()));
    shown.push(("/metrics", send(get("/metrics")).await?.2));
    shown.push(("/health/ready", send(get("/health/ready")).await?.2));
    let logs = s.server.logs();
    if let Some(logs) = &logs {
        shown.push(("the logs", logs.clone()));
    }
    for (what, text) in &shown {
        for (whose, key) in [
            ("the tenant's key", s.server.key()),
            ("the wrong key", wrong.as_str()),
            ("the vendor's key", MOCK_KEY),
        ] {
            if text.contains(key) {
                fail!("{what} shows {whose}");
            }
        }
    }
    if logs.is_none() {
        return Err(Outcome::Skip(
            "the logs are not captured (the process has a tracing subscriber of its own); the rest holds".into(),
        ));
    }
    Ok(())
}

/// SRV-006: no key is a 401 `authentication_error` in the door's shape, a wrong key too,
/// and neither reaches the vendor; a caller's good key is not sent to the vendor either (the
/// server calls it with the vendor's own).
pub async fn srv_006(cx: &Cx<'_>) -> CheckResultOf {
    served(cx)?;
    let s = setup(cx, cx.mock("text").await?).await?;
    for (what, key) in [
        ("no key", None),
        ("a made-up key", Some("sk-concord-made-up-key")),
    ] {
        let (status, _, body) = send(request(cx, &s, key, false, 64)).await?;
        expect_eq!(format!("{what}: status ({body})"), status, 401);
        expect_eq!(
            format!("{what}: error type"),
            error_type(s.door, &body)?,
            "authentication_error"
        );
    }
    expect_eq!("requests at the vendor", s.mock.requests().len(), 0);
    let caller = s.server.key().to_owned();
    let (status, _, body) = send(request(cx, &s, Some(&caller), false, 64)).await?;
    expect_eq!(format!("a good key: status ({body})"), status, 200);
    let seen = s.mock.requests();
    expect_eq!("requests at the vendor after a good call", seen.len(), 1);
    let r = &seen[0];
    if r.headers.iter().any(|(_, v)| v.contains(&caller)) || r.body.to_string().contains(&caller) {
        fail!("the caller's key reached the vendor (in a header or the body)");
    }
    Ok(())
}

/// SRV-007: a tenant's own requests per minute hold: three a minute come at once, the fourth
/// is a 429 `rate_limit_error` whose `Retry-After` is the 20 s until the next slot (exact in
/// `retry-after-ms`); another tenant's call goes through meanwhile.
pub async fn srv_007(cx: &Cx<'_>) -> CheckResultOf {
    served(cx)?;
    let s = setup(cx, cx.mock("text").await?).await?;
    administered(&s)?;
    let name = format!("limited-{}", unique());
    let key = s
        .server
        .tenant(&name, None)
        .await
        .map_err(|e| Outcome::Fail(format!("creating a tenant: {e}")))?;
    if let Err(e) = s.server.rate_limits(&name, Some(3), None).await {
        fail!("setting its rate limits: {e}");
    }
    for i in 1..=3 {
        let (status, _, body) = send(request(cx, &s, Some(&key), false, 64)).await?;
        if status != 200 {
            fail!("call {i} of a minute's three was refused ({status}): {body}");
        }
    }
    let (status, headers, body) = send(request(cx, &s, Some(&key), false, 64)).await?;
    expect_eq!(format!("the fourth call's status ({body})"), status, 429);
    expect_eq!(
        "the fourth call's error type",
        error_type(s.door, &body)?,
        "rate_limit_error"
    );
    expect_eq!(
        "Retry-After: the 20 s to the next slot at 3 a minute",
        header(&headers, "retry-after"),
        Some("20")
    );
    let ms: u64 = header(&headers, "retry-after-ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if !(15_000..=20_000).contains(&ms) {
        fail!("retry-after-ms {ms}: expected the wait to the next slot, 15,000 to 20,000");
    }
    let (status, _, body) = send(request(cx, &s, Some(s.server.key()), false, 64)).await?;
    expect_eq!(format!("another tenant's call ({body})"), status, 200);
    Ok(())
}

/// SRV-008: a user's runtime: set with `PUT /v1/runtimes/{user}` (the route's model,
/// temperature 0.3), a call naming the user in `x-concord-user` and no model is answered and
/// carries 0.3 at the vendor; a call with its own temperature carries its own; forgotten with
/// `DELETE`, the runtime is 404.
pub async fn srv_008(cx: &Cx<'_>) -> CheckResultOf {
    served(cx)?;
    let s = setup(cx, cx.mock("text").await?).await?;
    administered(&s)?;
    let user = format!("user-{}", unique());
    let at = format!("{}/v1/runtimes/{user}", s.server.origin());
    let put = cx
        .client()
        .put(&at)
        .bearer_auth(s.server.key())
        .timeout(crate::cx::CALL_TIMEOUT)
        .header("content-type", "application/json")
        .body(json!({"model": s.model, "settings": {"temperature": 0.3}}).to_string());
    let (status, _, body) = send(put).await?;
    expect_eq!(format!("setting the runtime ({body})"), status, 200);
    let sent_temperature = |s: &Setup| {
        s.mock.requests().last().and_then(|r| {
            concord_harness::probe::param(cx.protocol(), &r.body, "temperature")
                .and_then(Value::as_f64)
        })
    };
    // The door's one-turn request without its model: the user's applies.
    let call = |temperature: Option<f64>| {
        let (path, mut body) = one_turn(cx, &s, false, 64);
        if let Some(o) = body.as_object_mut() {
            o.remove("model");
            if let Some(t) = temperature {
                o.insert("temperature".into(), json!(t));
            }
        }
        post(cx, &s, Some(s.server.key()), path, &body).header(USER_HEADER, user.clone())
    };
    let (status, _, body) = send(call(None)).await?;
    expect_eq!(
        format!("a call naming the user and no model ({body})"),
        status,
        200
    );
    expect_eq!(
        "the temperature at the vendor: the user's",
        sent_temperature(&s),
        Some(0.3)
    );
    let (status, _, body) = send(call(Some(0.9))).await?;
    expect_eq!(
        format!("a call with its own temperature ({body})"),
        status,
        200
    );
    expect_eq!(
        "the temperature at the vendor: the call's own",
        sent_temperature(&s),
        Some(0.9)
    );
    let delete = cx
        .client()
        .delete(&at)
        .bearer_auth(s.server.key())
        .timeout(crate::cx::CALL_TIMEOUT);
    let (status, _, _) = send(delete).await?;
    expect_eq!("forgetting the runtime", status, 204);
    let get = cx
        .client()
        .get(&at)
        .bearer_auth(s.server.key())
        .timeout(crate::cx::CALL_TIMEOUT);
    let (status, _, _) = send(get).await?;
    expect_eq!("the forgotten runtime", status, 404);
    Ok(())
}

/// The header naming a call's user (concord's, `docs/server.md`).
const USER_HEADER: &str = "x-concord-user";
