//! ERR: errors and faults.

use std::time::{Duration, Instant};

use concord::{Credential, Error, ErrorKind, Request, RuntimeContext, StreamEvent};
use concord_harness::mock::AUTO;
use serde_json::Value;

use crate::cx::Cx;
use crate::outcome::{CheckResultOf, Outcome};
use crate::{expect_eq, fail};

fn cases(cx: &Cx<'_>) -> CheckResultOf<Vec<concord_harness::ErrorCase>> {
    cx.fixtures
        .error_cases(cx.protocol())
        .map_err(|e| Outcome::Fail(e.to_string()))
}

fn kind_is(what: &str, e: &Error, kind: &str) -> CheckResultOf {
    expect_eq!(format!("{what}: kind (error: {e})"), e.kind.as_str(), kind);
    Ok(())
}

/// Generate and stream against an error scenario; both must fail, each after one request.
async fn both_fail(cx: &Cx<'_>, scenario: &str) -> CheckResultOf<Vec<(&'static str, Error)>> {
    let mock = cx.mock(scenario).await?;
    let ctx = cx.ctx(&mock);
    let mut out = Vec::new();
    match cx.generate(&Request::user("hi"), &ctx).await {
        Ok(r) => fail!("{scenario}: generate succeeded: {:?}", r.text),
        Err(e) => out.push(("generate", e)),
    }
    if cx.caps().streaming {
        let (events, err) = cx.stream(&Request::user("hi"), &ctx).await;
        match err {
            Some(e) => out.push(("stream", e)),
            None => fail!("{scenario}: the stream succeeded: {events:?}"),
        }
    }
    let (sent, calls) = (mock.requests().len(), out.len());
    if cx.outside_gateway() {
        // A gateway may retry on its own; what its caller got is what is judged.
        if sent < calls {
            fail!("{scenario}: {calls} calls, yet only {sent} requests reached the vendor");
        }
    } else {
        expect_eq!(
            format!(
                "{scenario}: requests at the vendor (a provider does not retry; the retry layer does)"
            ),
            sent,
            calls
        );
    }
    Ok(out)
}

pub async fn err_001(cx: &Cx<'_>) -> CheckResultOf {
    for case in cases(cx)? {
        let scenario = format!("error_{}", case.name);
        for (what, e) in both_fail(cx, &scenario).await? {
            let what = format!("{scenario} {what}");
            kind_is(&what, &e, case.expect["kind"].as_str().unwrap_or_default())?;
            expect_eq!(format!("{what}: status"), e.status, Some(case.status));
            expect_eq!(
                format!("{what}: provider"),
                e.provider.as_str(),
                cx.subject.provider.name()
            );
            if let Some(r) = case.expect["retryable"].as_bool() {
                expect_eq!(format!("{what}: retryable"), e.retryable, r);
            }
        }
    }
    Ok(())
}

pub async fn err_002(cx: &Cx<'_>) -> CheckResultOf {
    let mut checked = 0;
    for case in cases(cx)? {
        let has_signal = case.expect.get("retry_after_ms").is_some()
            || case.expect.get("retry_after_ms_between").is_some()
            || case.headers.contains_key("x-should-retry");
        if !has_signal {
            continue;
        }
        checked += 1;
        let scenario = format!("error_{}", case.name);
        for (what, e) in both_fail(cx, &scenario).await? {
            let what = format!("{scenario} {what}");
            let got = e.retry_after.map(|d| d.as_millis() as u64);
            if let Some(ms) = case.expect.get("retry_after_ms").and_then(Value::as_u64) {
                expect_eq!(format!("{what}: retry_after_ms"), got, Some(ms));
            }
            if let Some(range) = case
                .expect
                .get("retry_after_ms_between")
                .and_then(Value::as_array)
            {
                let (lo, hi) = (
                    range[0].as_u64().unwrap_or(0),
                    range[1].as_u64().unwrap_or(u64::MAX),
                );
                if !got.is_some_and(|g| (lo..=hi).contains(&g)) {
                    fail!("{what}: retry_after_ms: expected {lo}..={hi} (from an HTTP-date), saw {got:?}");
                }
            }
            if let Some(flag) = case.headers.get("x-should-retry") {
                expect_eq!(
                    format!("{what}: retryable under x-should-retry: {flag}"),
                    e.retryable,
                    flag == "true"
                );
            }
        }
    }
    if checked == 0 {
        fail!(
            "the fixtures have no retry-signal cases for {}",
            cx.protocol()
        );
    }
    Ok(())
}

/// Streams `scenario`, expecting an error of `kind` after the expected text and no finish.
async fn stream_fails(
    cx: &Cx<'_>,
    scenario: &str,
    kind: ErrorKind,
    timeout: Option<Duration>,
) -> CheckResultOf<(Vec<StreamEvent>, Error)> {
    cx.require(cx.caps().streaming, "streaming")?;
    let mock = cx.mock(scenario).await?;
    let mut ctx = cx.ctx(&mock);
    if timeout.is_some() {
        ctx.timeout = timeout;
    }
    let (events, err) = cx.stream(&Request::user("hi"), &ctx).await;
    let Some(e) = err else {
        fail!("{scenario}: expected a {kind} error, the stream ended cleanly with {events:?}");
    };
    // A gateway reached from outside answers in its door's format, which has no word for most
    // of these kinds (OpenAI's has no "malformed", "overloaded" or "timeout" mid-stream); it
    // ends the stream by cutting it or with an error of its own. Either way the caller must
    // see the stream fail, never finish: that is what is judged.
    if !cx.outside_gateway() {
        expect_eq!(format!("{scenario}: kind (error: {e})"), e.kind, kind);
    }
    if events
        .iter()
        .any(|e| matches!(e, StreamEvent::Finish { .. }))
    {
        fail!("{scenario}: the partial stream was reported finished: {events:?}");
    }
    Ok((events, e))
}

fn text(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|e| {
            if let StreamEvent::TextDelta { text } = e {
                Some(text.as_str())
            } else {
                None
            }
        })
        .collect()
}

pub async fn err_003(cx: &Cx<'_>) -> CheckResultOf {
    let sc = cx
        .fixtures
        .scenario(cx.protocol(), "stream_error")
        .map_err(|e| Outcome::Fail(e.to_string()))?;
    let expect = &sc.file.expect.unwrap_or_default()["error"];
    let kind: ErrorKind = serde_json::from_value(expect["kind"].clone())
        .map_err(|e| Outcome::Fail(format!("bad fixture: {e}")))?;
    let (events, e) = stream_fails(cx, "stream_error", kind, None).await?;
    expect_eq!(
        "text before the error",
        text(&events),
        expect["after_text"].as_str().unwrap_or_default()
    );
    expect_eq!(
        "retryable",
        e.retryable,
        expect["retryable"].as_bool().unwrap_or(false)
    );
    Ok(())
}

pub async fn err_004(cx: &Cx<'_>) -> CheckResultOf {
    stream_fails(cx, "malformed_frame", ErrorKind::MalformedResponse, None).await?;
    Ok(())
}

pub async fn err_005(cx: &Cx<'_>) -> CheckResultOf {
    // `truncated_after_finish`: the finish reason (and for some protocols the start of the
    // terminal frame) arrived, the terminal marker did not; a client that ends on the finish
    // reason reports a cut stream as a success.
    for scenario in ["truncated", "truncated_after_finish", "reset"] {
        stream_fails(cx, scenario, ErrorKind::StreamInterrupted, None).await?;
    }
    Ok(())
}

pub async fn err_006(cx: &Cx<'_>) -> CheckResultOf {
    let limit = Duration::from_millis(300);
    // The margin absorbs a loaded CI machine; a provider that ignores the timeout never ends.
    let bound = limit + Duration::from_secs(3);
    let started = Instant::now();
    match tokio::time::timeout(
        bound,
        stream_fails(cx, "stall", ErrorKind::Timeout, Some(limit)),
    )
    .await
    {
        Err(_) => fail!(
            "no timeout within {bound:?} of a stalled stream (configured {limit:?} + 3 s margin)"
        ),
        Ok(result) => result?,
    };
    let took = started.elapsed();
    if took > bound {
        fail!("timeout came after {took:?}, configured bound {limit:?} (+3 s margin)");
    }
    Ok(())
}

pub async fn err_007(cx: &Cx<'_>) -> CheckResultOf {
    const BAD_KEY: &str = "sk-conformance-LEAKCHECK-9f8e7d6c5b4a";
    let endpoint = cx.endpoint("error_key_echo").await?;
    let mut ctx = cx.ctx_for(&endpoint);
    ctx.credential = Some(Credential::new(BAD_KEY));
    let mut errors = Vec::new();
    match cx.generate(&Request::user("hi"), &ctx).await {
        // A live server that checks no keys answers; the transport error below still counts.
        Ok(_) if !cx.mode().is_mock() => {}
        Ok(_) => fail!("a call with a bad key succeeded"),
        Err(e) => errors.push(e),
    }
    if cx.caps().streaming {
        if let (_, Some(e)) = cx.stream(&Request::user("hi"), &ctx).await {
            errors.push(e);
        }
    }
    // A transport failure must not leak it either.
    let mut closed = ctx.clone();
    closed.base_url = Some("http://127.0.0.1:9/v1".into());
    if let Err(e) = cx.generate(&Request::user("hi"), &closed).await {
        errors.push(e);
    }
    for e in errors {
        for text in [e.to_string(), format!("{e:?}"), e.message.clone()] {
            if text.contains(BAD_KEY) || text.contains("LEAKCHECK") {
                fail!("the credential appears in an error: {text}");
            }
        }
    }
    Ok(())
}

/// The one error a call should end in, from generate and (when it streams) from the stream,
/// at its start or as its first item. `Ok(None)`: the call succeeded.
async fn refused(
    cx: &Cx<'_>,
    request: &Request,
    ctx: &RuntimeContext,
) -> CheckResultOf<Option<Vec<(&'static str, concord::Error)>>> {
    let mut errors = Vec::new();
    match cx.generate(request, ctx).await {
        Ok(_) => return Ok(None),
        Err(e) => errors.push(("generate", e)),
    }
    if cx.caps().streaming {
        match cx.stream(request, ctx).await {
            (_, Some(e)) => errors.push(("stream", e)),
            (events, None) => fail!("generate failed but the stream succeeded: {events:?}"),
        }
    }
    Ok(Some(errors))
}

/// A call the server should refuse, with the kind it must map to; `accepted` says what it
/// means when a live server answers instead (a mock always refuses).
async fn refused_as(
    cx: &Cx<'_>,
    request: &Request,
    ctx: &RuntimeContext,
    kind: ErrorKind,
    accepted: &str,
) -> CheckResultOf {
    let Some(errors) = refused(cx, request, ctx).await? else {
        if cx.mode().is_mock() {
            fail!("the mock vendor refuses this call, yet it succeeded");
        }
        return Err(Outcome::Skip(accepted.to_owned()));
    };
    for (what, e) in errors {
        if e.kind != kind || e.retryable {
            fail!(
                "{what}: expected a non-retryable {}, got {} (retryable {}): {e}",
                kind.as_str(),
                e.kind.as_str(),
                e.retryable
            );
        }
    }
    Ok(())
}

pub async fn err_008(cx: &Cx<'_>) -> CheckResultOf {
    cx.per_runtime()?;
    let endpoint = cx.keyed_endpoint(AUTO).await?;
    let mut ctx = cx.ctx_for(&endpoint);
    ctx.credential = Some(Credential::new("sk-concord-not-a-real-key-000000000000"));
    refused_as(
        cx,
        &Request::user("Say hello."),
        &ctx,
        ErrorKind::Authentication,
        "the server accepted a made-up key: it checks no keys (give it one: `concord mock --key`)",
    )
    .await
}

/// ERR-011: a request that carries no credential at all is refused as `authentication`, in
/// the protocol's error shape — not answered, not a 400, not a 500 (a popular proxy answers it
/// with a 500). Sent as raw HTTP to the protocol's standard address, as any client without a
/// key would send it; concord's own providers never send one (SL-001).
pub async fn err_011(cx: &Cx<'_>) -> CheckResultOf {
    if cx.subject.served.is_some() {
        return Err(Outcome::Skip(
            "the request would reach the mock, not the server: SRV-006 sends it to the door".into(),
        ));
    }
    let endpoint = cx.keyed_endpoint(AUTO).await?;
    let ctx = cx.ctx_for(&endpoint);
    let base = ctx.base_url.clone().unwrap_or_default();
    let base = base.trim_end_matches('/');
    let model = ctx.model.clone().unwrap_or_default();
    let prompt = "Say hello.";
    let (row, api, url, body) = match cx.protocol() {
        concord_harness::Protocol::Openai => (
            "openai-compatible",
            concord::Api::Chat,
            format!("{base}/chat/completions"),
            serde_json::json!({"model": model, "max_tokens": 16,
                "messages": [{"role": "user", "content": prompt}]}),
        ),
        concord_harness::Protocol::OpenaiResponses => (
            "openai-compatible",
            concord::Api::Responses,
            format!("{base}/responses"),
            serde_json::json!({"model": model, "input": prompt, "max_output_tokens": 16}),
        ),
        concord_harness::Protocol::Anthropic => (
            "anthropic",
            concord::Api::Messages,
            format!("{base}/v1/messages"),
            serde_json::json!({"model": model, "max_tokens": 16,
                "messages": [{"role": "user", "content": prompt}]}),
        ),
        // Vertex's base is the project's location; the Gemini API's the host.
        concord_harness::Protocol::Gemini if cx.subject.name.starts_with("vertex") => (
            "gemini",
            concord::Api::GenerateContent,
            format!("{base}/publishers/google/models/{model}:generateContent"),
            serde_json::json!({"contents": [{"role": "user", "parts": [{"text": prompt}]}]}),
        ),
        concord_harness::Protocol::Gemini => (
            "gemini",
            concord::Api::GenerateContent,
            format!("{base}/v1beta/models/{model}:generateContent"),
            serde_json::json!({"contents": [{"role": "user", "parts": [{"text": prompt}]}]}),
        ),
    };
    let response = cx
        .client()
        .post(&url)
        .header("content-type", "application/json")
        .header("anthropic-version", "2023-06-01")
        .timeout(crate::cx::CALL_TIMEOUT)
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| Outcome::Fail(format!("the server did not answer: {e}")))?;
    let status = response.status().as_u16();
    let text = response.bytes().await.unwrap_or_default();
    if (200..300).contains(&status) {
        return Err(Outcome::Skip(
            "the server answered a request without a key: it checks no keys".into(),
        ));
    }
    let format = concord::descriptor::get(row)
        .and_then(|d| (d.format)(api))
        .ok_or_else(|| Outcome::Fail(format!("no {row} format in this build")))?;
    let e = format.decode_error(row, status, &text);
    if e.kind != ErrorKind::Authentication {
        fail!(
            "no credential: expected authentication, got {} (HTTP {status}): {}",
            e.kind,
            String::from_utf8_lossy(&text)
        );
    }
    Ok(())
}

pub async fn err_009(cx: &Cx<'_>) -> CheckResultOf {
    let endpoint = cx.endpoint(AUTO).await?;
    let ctx = cx
        .ctx_for(&endpoint)
        .model(concord_harness::mock::MISSING_MODEL);
    refused_as(
        cx,
        &Request::user("Say hello."),
        &ctx,
        ErrorKind::NotFound,
        "the server answered for a model it cannot have: it ignores the model name",
    )
    .await
}

/// 1.5 million short words: over every vendor's context window (Gemini's is 1,048,576 tokens),
/// yet 4.5 MB, under every request-size limit (Gemini's 20 MB).
fn oversized_prompt() -> String {
    " hi".repeat(1_500_000)
}

pub async fn err_010(cx: &Cx<'_>) -> CheckResultOf {
    if matches!(cx.mode(), crate::Mode::Record(_)) {
        return Err(Outcome::Skip(
            "not recorded: its 4.5 MB prompt would be the whole cassette".into(),
        ));
    }
    let endpoint = cx.endpoint(AUTO).await?;
    let ctx = cx.ctx_for(&endpoint);
    refused_as(
        cx,
        &Request::user(oversized_prompt()),
        &ctx,
        ErrorKind::ContextLengthExceeded,
        "the server accepted a prompt of 1.5 million words",
    )
    .await
}
