//! CTR: the basic contract.

use concord::{
    ErrorKind, FinishReason, Message, Parameters, Request, Response, StreamEvent, Usage,
};
use serde_json::Value;

use crate::cx::Cx;
use crate::outcome::CheckResultOf;
use crate::{expect_eq, fail, probe, Protocol};

fn usage_is_complete(what: &str, u: &Usage) -> CheckResultOf {
    match (u.input_tokens, u.output_tokens, u.total_tokens) {
        (Some(i), Some(o), Some(t)) if i + o == t => Ok(()),
        _ => fail!("{what}: usage must have integer input/output/total with total = input + output, saw {u:?}"),
    }
}

pub async fn ctr_001(cx: &Cx<'_>) -> CheckResultOf {
    let endpoint = cx.endpoint("text").await?;
    let r = cx
        .generate_ok(&Request::user("Say hello."), &cx.ctx_for(&endpoint))
        .await?;
    if r.text.trim().is_empty() {
        fail!("the text is empty");
    }
    expect_eq!("finish_reason", r.finish_reason, FinishReason::Stop);
    if r.id.is_empty() || r.model.is_empty() {
        fail!(
            "the response id and model must be set, saw id={:?} model={:?}",
            r.id,
            r.model
        );
    }
    usage_is_complete("generate", &r.usage)
}

pub async fn ctr_002(cx: &Cx<'_>) -> CheckResultOf {
    cx.require(cx.caps().streaming, "streaming")?;
    let endpoint = cx.endpoint("text").await?;
    let (events, assembled) = cx
        .stream_ok(&Request::user("Say hello."), &cx.ctx_for(&endpoint))
        .await?;
    if !matches!(events.first(), Some(StreamEvent::Start { .. })) {
        fail!("the first event must be start, saw {:?}", events.first());
    }
    let finishes: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::Finish { .. }))
        .collect();
    if finishes.len() != 1 || !matches!(events.last(), Some(StreamEvent::Finish { .. })) {
        fail!(
            "exactly one finish event, last; saw {} finish events, last {:?}",
            finishes.len(),
            events.last()
        );
    }
    let deltas: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    if deltas.len() < 2 {
        fail!("at least two text deltas, saw {}", deltas.len());
    }
    expect_eq!("concatenated deltas", deltas.concat(), assembled.text);
    if cx.caps().usage_in_streams {
        usage_is_complete("the finish event", &assembled.usage)?;
    }
    Ok(())
}

fn same(what: &str, g: &Response, s: &Response) -> CheckResultOf {
    expect_eq!(format!("{what}: streamed text"), s.text, g.text);
    expect_eq!(
        format!("{what}: streamed reasoning"),
        s.reasoning,
        g.reasoning
    );
    expect_eq!(
        format!("{what}: streamed tool calls"),
        s.tool_calls,
        g.tool_calls
    );
    expect_eq!(
        format!("{what}: streamed finish"),
        (s.finish_reason, &s.raw_finish_reason),
        (g.finish_reason, &g.raw_finish_reason)
    );
    expect_eq!(format!("{what}: streamed usage"), s.usage, g.usage);
    expect_eq!(
        format!("{what}: streamed id/model"),
        (&s.id, &s.model),
        (&g.id, &g.model)
    );
    Ok(())
}

pub async fn ctr_003(cx: &Cx<'_>) -> CheckResultOf {
    cx.require(cx.caps().streaming, "streaming")?;
    for scenario in [
        "text",
        "tool_call",
        "parallel_tool_calls",
        "reasoning",
        "cached_usage",
    ] {
        let mock = cx.mock(scenario).await?;
        let ctx = cx.ctx(&mock);
        let req = Request::user("hi");
        let g = cx.generate_ok(&req, &ctx).await?;
        let (_, s) = cx.stream_ok(&req, &ctx).await?;
        same(scenario, &g, &s)?;
    }
    Ok(())
}

pub async fn ctr_004(cx: &Cx<'_>) -> CheckResultOf {
    let mock = cx.mock("text").await?;
    let req = Request {
        messages: vec![Message::system("Answer in French."), Message::user("hi")],
        ..Request::default()
    };
    cx.generate_ok(&req, &cx.ctx(&mock)).await?;
    let sent = &mock.requests()[0].body;
    expect_eq!(
        "system prompt on the wire",
        probe::system_text(cx.protocol(), sent).as_deref(),
        Some("Answer in French.")
    );
    // Where it must not be: Anthropic and Gemini have no system role in the turns.
    let turns = probe::turns(cx.protocol(), sent);
    if !matches!(cx.protocol(), Protocol::Openai | Protocol::OpenaiResponses)
        && turns.iter().any(|(_, t)| t.contains("Answer in French."))
    {
        fail!("the system prompt also appears as a turn: {turns:?}");
    }
    Ok(())
}

pub async fn ctr_005(cx: &Cx<'_>) -> CheckResultOf {
    let p = cx.protocol();
    let mut req = Request::user("hi");
    req.params = Parameters {
        temperature: Some(0.25),
        top_p: Some(0.75),
        max_output_tokens: Some(77),
        stop: vec!["STOP-HERE".into()],
    };
    if !probe::has_param(p, "stop") {
        // No place for stop sequences on this wire: dropping them silently would change the
        // answer, so the call must fail with `unsupported` before anything is sent.
        let mock = cx.mock("text").await?;
        match cx.generate(&req, &cx.ctx(&mock)).await {
            Err(e) if e.kind == ErrorKind::Unsupported => {}
            other => fail!(
                "stop sequences on a protocol without them: expected unsupported, saw {:?}",
                other.map(|r| r.text)
            ),
        }
        expect_eq!("requests at the vendor", mock.requests().len(), 0);
        req.params.stop.clear();
    }
    let mock = cx.mock("text").await?;
    cx.generate_ok(&req, &cx.ctx(&mock)).await?;
    let sent = &mock.requests()[0].body;
    expect_eq!(
        "temperature",
        probe::param(p, sent, "temperature").and_then(Value::as_f64),
        Some(0.25)
    );
    expect_eq!(
        "top_p",
        probe::param(p, sent, "top_p").and_then(Value::as_f64),
        Some(0.75)
    );
    expect_eq!(
        "max output tokens",
        probe::param(p, sent, "max_output_tokens").and_then(Value::as_u64),
        Some(77)
    );
    if probe::has_param(p, "stop") {
        expect_eq!(
            "stop sequences",
            probe::param(p, sent, "stop").cloned(),
            Some(serde_json::json!(["STOP-HERE"]))
        );
    }

    // Unset parameters are absent, not null. The context's settings carry a max output token
    // count (Anthropic requires one), so only the other three must be missing.
    let mock = cx.mock("text").await?;
    cx.generate_ok(&Request::user("hi"), &cx.ctx(&mock)).await?;
    let sent = &mock.requests()[0].body;
    for name in ["temperature", "top_p", "stop"] {
        if let Some(v) = probe::param(p, sent, name) {
            fail!("unset parameter {name} is on the wire as {v}");
        }
    }
    if sent.to_string().contains(":null") {
        fail!("the body carries nulls: {sent}");
    }
    Ok(())
}

pub async fn ctr_006(cx: &Cx<'_>) -> CheckResultOf {
    let p = cx.protocol();
    let histories = [
        vec![
            Message::user("one"),
            Message::assistant("two"),
            Message::user("three"),
        ],
        vec![Message::user("first"), Message::user("second")],
    ];
    for history in histories {
        let mock = cx.mock("text").await?;
        let req = Request {
            messages: history.clone(),
            ..Request::default()
        };
        // The mock validates like the vendor: a 4xx here is an encoding the vendor would reject.
        cx.generate_ok(&req, &cx.ctx(&mock)).await?;
        let turns = probe::turns(p, &mock.requests()[0].body);
        let texts: String = turns
            .iter()
            .map(|(_, t)| t.as_str())
            .collect::<Vec<_>>()
            .join("|");
        let wanted: Vec<&str> = history
            .iter()
            .map(|m| match m {
                Message::User { content } => match &content[0] {
                    concord::ContentPart::Text { text } => text.as_str(),
                    _ => "",
                },
                Message::Assistant { content, .. } => content.as_str(),
                _ => "",
            })
            .collect();
        if texts != wanted.join("|") {
            fail!(
                "turn texts on the wire: expected {:?} in order, saw {turns:?}",
                wanted
            );
        }
        let roles: Vec<&str> = turns.iter().map(|(r, _)| r.as_str()).collect();
        let assistant = if p == Protocol::Gemini {
            "model"
        } else {
            "assistant"
        };
        if roles.iter().any(|r| *r != "user" && *r != assistant) {
            fail!("roles on the wire must be user/{assistant}, saw {roles:?}");
        }
    }
    Ok(())
}

pub async fn ctr_007(cx: &Cx<'_>) -> CheckResultOf {
    let want = cx.expected("utf8")?;
    let mock = cx.mock("utf8").await?;
    let ctx = cx.ctx(&mock);
    let g = cx.generate_ok(&Request::user("hi"), &ctx).await?;
    expect_eq!("generate text", g.text, want.text);
    if cx.caps().streaming {
        // The mock sends this stream in 3-byte chunks: characters are split across chunks and frames.
        let (_, s) = cx.stream_ok(&Request::user("hi"), &ctx).await?;
        expect_eq!("streamed text", s.text, want.text);
    }
    Ok(())
}

pub async fn ctr_008(cx: &Cx<'_>) -> CheckResultOf {
    cx.require(cx.caps().streaming, "streaming")?;
    let want = cx.expected("unknown_fields")?;
    let mock = cx.mock("unknown_fields").await?;
    let ctx = cx.ctx(&mock);
    let g = cx.generate_ok(&Request::user("hi"), &ctx).await?;
    let (_, s) = cx.stream_ok(&Request::user("hi"), &ctx).await?;
    for (what, r) in [("generate", g), ("stream", s)] {
        expect_eq!(format!("{what}: text"), r.text, want.text);
        // A server answers in its door's format, whose clients may know only the format's own
        // finish reasons: an unknown one arrives as the door's plain stop (docs/server.md).
        // A gateway reached from outside may pass the vendor's reason through instead.
        let passed_through = cx.outside_gateway() && r.finish_reason == FinishReason::Other;
        if cx.subject.served.is_some() && !passed_through {
            expect_eq!(
                format!("{what}: finish through the server"),
                r.finish_reason,
                FinishReason::Stop
            );
            continue;
        }
        expect_eq!(
            format!("{what}: finish"),
            r.finish_reason,
            FinishReason::Other
        );
        expect_eq!(
            format!("{what}: raw finish kept"),
            r.raw_finish_reason,
            want.raw_finish_reason
        );
    }
    Ok(())
}
