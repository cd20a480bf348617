//! TOOL: tool calling.

use concord::{ErrorKind, FinishReason, Message, Request, StreamEvent, Tool, ToolCall, ToolChoice};
use serde_json::{json, Value};

use super::valid_ids;
use crate::cx::Cx;
use crate::outcome::CheckResultOf;
use crate::outcome::Outcome;
use crate::{expect_eq, fail, probe, Protocol};

fn weather_tool() -> Tool {
    Tool {
        name: "get_weather".into(),
        description: "Current weather".into(),
        parameters: json!({"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}),
    }
}

fn tool_request() -> Request {
    Request {
        tools: vec![weather_tool()],
        ..Request::user("What's the weather in Paris?")
    }
}

/// Generate and stream `scenario`; both must match its expected tool calls and finish.
async fn calls_match(cx: &Cx<'_>, scenario: &str) -> CheckResultOf<Vec<ToolCall>> {
    cx.require(cx.caps().tools, "tool calling")?;
    let want = cx.expected(scenario)?;
    let mock = cx.mock(scenario).await?;
    let ctx = cx.ctx(&mock);
    let mut got = vec![("generate", cx.generate_ok(&tool_request(), &ctx).await?)];
    if cx.caps().streaming {
        got.push(("stream", cx.stream_ok(&tool_request(), &ctx).await?.1));
    }
    for (what, r) in &got {
        expect_eq!(
            format!("{what}: finish"),
            r.finish_reason,
            FinishReason::ToolCalls
        );
        expect_eq!(
            format!("{what}: tool call count"),
            r.tool_calls.len(),
            want.tool_calls.len()
        );
        for (i, (g, w)) in r.tool_calls.iter().zip(&want.tool_calls).enumerate() {
            expect_eq!(format!("{what}: call {i} name"), g.name, w.name);
            expect_eq!(
                format!("{what}: call {i} arguments"),
                g.arguments,
                w.arguments
            );
            expect_eq!(
                format!("{what}: call {i} provider_id"),
                g.provider_id,
                w.provider_id
            );
            if !g.arguments.is_object() {
                fail!(
                    "{what}: call {i} arguments must be a JSON object, saw {}",
                    g.arguments
                );
            }
        }
        valid_ids(&r.tool_calls)?;
    }
    let (_, first) = &got[0];
    Ok(first.tool_calls.clone())
}

pub async fn tool_001(cx: &Cx<'_>) -> CheckResultOf {
    let calls = calls_match(cx, "tool_call").await?;
    expect_eq!("tool calls", calls.len(), 1);
    Ok(())
}

pub async fn tool_002(cx: &Cx<'_>) -> CheckResultOf {
    cx.require(cx.caps().parallel_tools, "parallel tool calls")?;
    let calls = calls_match(cx, "parallel_tool_calls").await?;
    if calls.len() < 2 {
        fail!("expected two or more calls, saw {}", calls.len());
    }
    Ok(())
}

pub async fn tool_003(cx: &Cx<'_>) -> CheckResultOf {
    let calls = calls_match(cx, "tool_no_args").await?;
    expect_eq!(
        "arguments of a call without arguments",
        calls[0].arguments,
        json!({})
    );
    Ok(())
}

fn round_trip_history(is_error: bool) -> Request {
    Request {
        messages: vec![
            Message::user("What's the weather in Paris?"),
            Message::Assistant {
                content: String::new(),
                reasoning: Vec::new(),
                tool_calls: vec![ToolCall {
                    id: "call_rt_1".into(),
                    provider_id: None,
                    name: "get_weather".into(),
                    arguments: json!({"location": "Paris"}),
                    signature: None,
                }],
            },
            Message::Tool {
                call_id: "call_rt_1".into(),
                content: "18C, sunny".into(),
                is_error,
            },
        ],
        tools: vec![weather_tool()],
        ..Request::default()
    }
}

/// The encoded tool result, found the protocol's way (and checked to answer its call).
fn tool_result_on_wire(p: Protocol, body: &Value) -> CheckResultOf<Value> {
    let parts = probe::all_parts(p, body);
    match p {
        Protocol::Openai => {
            let call_id = parts
                .iter()
                .find_map(|m| m["tool_calls"][0]["id"].as_str())
                .unwrap_or_default();
            let result = parts
                .iter()
                .find(|m| m["role"] == "tool")
                .ok_or_else(|| crate::Outcome::Fail(format!("no `tool` message: {body}")))?;
            expect_eq!(
                "tool_call_id of the tool message",
                result["tool_call_id"].as_str().unwrap_or_default(),
                call_id
            );
            Ok((*result).clone())
        }
        Protocol::OpenaiResponses => {
            let call_id = parts
                .iter()
                .find(|i| i["type"] == "function_call")
                .and_then(|i| i["call_id"].as_str())
                .unwrap_or_default();
            let result = parts
                .iter()
                .find(|i| i["type"] == "function_call_output")
                .ok_or_else(|| {
                    crate::Outcome::Fail(format!("no function_call_output item: {body}"))
                })?;
            expect_eq!(
                "call_id of the function_call_output",
                result["call_id"].as_str().unwrap_or_default(),
                call_id
            );
            Ok((*result).clone())
        }
        Protocol::Anthropic => {
            let use_id = parts
                .iter()
                .find(|b| b["type"] == "tool_use")
                .and_then(|b| b["id"].as_str())
                .unwrap_or_default();
            let user_with_result = body["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|m| {
                    m["role"] == "user"
                        && m["content"]
                            .as_array()
                            .is_some_and(|c| c.iter().any(|b| b["type"] == "tool_result"))
                })
                .ok_or_else(|| {
                    crate::Outcome::Fail(format!(
                        "no tool_result block inside a user message: {body}"
                    ))
                })?;
            let block = user_with_result["content"]
                .as_array()
                .unwrap()
                .iter()
                .find(|b| b["type"] == "tool_result")
                .unwrap();
            expect_eq!(
                "tool_use_id of the tool_result",
                block["tool_use_id"].as_str().unwrap_or_default(),
                use_id
            );
            Ok(block.clone())
        }
        Protocol::Gemini => {
            let part = parts
                .iter()
                .find(|x| x.get("functionResponse").is_some())
                .ok_or_else(|| crate::Outcome::Fail(format!("no functionResponse part: {body}")))?;
            expect_eq!(
                "functionResponse name",
                part["functionResponse"]["name"].as_str(),
                Some("get_weather")
            );
            Ok(part["functionResponse"].clone())
        }
    }
}

pub async fn tool_004(cx: &Cx<'_>) -> CheckResultOf {
    cx.require(cx.caps().tools, "tool calling")?;
    let mock = cx.mock("tool_result").await?;
    let r = cx
        .generate_ok(&round_trip_history(false), &cx.ctx(&mock))
        .await?;
    expect_eq!(
        "answer after the tool result",
        r.text,
        cx.expected("tool_result")?.text
    );
    let result = tool_result_on_wire(cx.protocol(), &mock.requests()[0].body)?;
    if !result.to_string().contains("18C, sunny") {
        fail!("the tool output is not in the encoded result: {result}");
    }

    // The real round trip: the calls a response gave, sent back as they came. Whatever the
    // vendor needs to see again (Gemini's thoughtSignature) must reach the wire.
    let calls_mock = cx.mock("tool_call").await?;
    let answer = cx
        .generate_ok(&tool_request(), &cx.ctx(&calls_mock))
        .await?;
    let wire = cx
        .fixtures
        .scenario(cx.protocol(), "tool_call")
        .map_err(|e| Outcome::Fail(e.to_string()))?;
    let vendor_body =
        String::from_utf8_lossy(wire.generate_body.as_deref().unwrap_or_default()).into_owned();
    let mut history = vec![Message::user("What's the weather in Paris?")];
    history.push(Message::from_response(&answer));
    history.extend(
        answer
            .tool_calls
            .iter()
            .map(|c| Message::tool_result(c.id.clone(), "18C, sunny")),
    );
    let mock = cx.mock("tool_result").await?;
    cx.generate_ok(
        &Request {
            messages: history,
            tools: vec![weather_tool()],
            ..Request::default()
        },
        &cx.ctx(&mock),
    )
    .await?;
    let sent = mock.requests()[0].body.to_string();
    // Reasoning blocks the vendor issued (Anthropic signatures, Responses encrypted reasoning)
    // go back with the calls, or the vendor rejects the turn.
    for block in &cx.expected("tool_call")?.reasoning_blocks {
        for opaque in [&block.signature, &block.redacted, &block.encrypted_content]
            .into_iter()
            .flatten()
        {
            if !sent.contains(opaque.as_str()) {
                fail!("the reasoning block {opaque:?} of the response was not sent back with its tool call: {sent}");
            }
        }
    }
    let signature = serde_json::from_str::<Value>(&vendor_body)
        .ok()
        .and_then(|v| {
            v.pointer("/candidates/0/content/parts/0/thoughtSignature")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
    if let Some(signature) = signature {
        if !sent.contains(&signature) {
            fail!("the function call's thoughtSignature {signature:?} was not sent back with it: {sent}");
        }
    }
    Ok(())
}

pub async fn tool_005(cx: &Cx<'_>) -> CheckResultOf {
    cx.require(cx.caps().tools && cx.caps().tool_choice, "tool choice")?;
    let p = cx.protocol();
    // The forms per protocol: Chat Completions, Responses (flat), Anthropic, Gemini.
    let cases = [
        (
            ToolChoice::Auto,
            [
                json!("auto"),
                json!("auto"),
                json!({"type": "auto"}),
                json!({"mode": "AUTO"}),
            ],
        ),
        (
            ToolChoice::None,
            [
                json!("none"),
                json!("none"),
                json!({"type": "none"}),
                json!({"mode": "NONE"}),
            ],
        ),
        (
            ToolChoice::Required,
            [
                json!("required"),
                json!("required"),
                json!({"type": "any"}),
                json!({"mode": "ANY"}),
            ],
        ),
        (
            ToolChoice::Named("get_weather".into()),
            [
                json!({"type": "function", "function": {"name": "get_weather"}}),
                json!({"type": "function", "name": "get_weather"}),
                json!({"type": "tool", "name": "get_weather"}),
                json!({"mode": "ANY", "allowedFunctionNames": ["get_weather"]}),
            ],
        ),
    ];
    for (choice, [openai, responses, anthropic, gemini]) in cases {
        let mock = cx.mock("text").await?;
        let req = Request {
            tool_choice: Some(choice.clone()),
            ..tool_request()
        };
        cx.generate_ok(&req, &cx.ctx(&mock)).await?;
        let body = &mock.requests()[0].body;
        let (got, want) = match p {
            Protocol::Openai => (&body["tool_choice"], openai),
            Protocol::OpenaiResponses => (&body["tool_choice"], responses),
            Protocol::Anthropic => (&body["tool_choice"], anthropic),
            Protocol::Gemini => (&body["toolConfig"]["functionCallingConfig"], gemini),
        };
        expect_eq!(format!("{choice:?} on the wire"), got, &want);
    }
    Ok(())
}

pub async fn tool_006(cx: &Cx<'_>) -> CheckResultOf {
    cx.require(cx.caps().tools, "tool calling")?;
    let want = cx.expected("bad_tool_ids")?;
    let mock = cx.mock("bad_tool_ids").await?;
    let ctx = cx.ctx(&mock);
    let first = cx.generate_ok(&tool_request(), &ctx).await?;
    let second = cx.generate_ok(&tool_request(), &ctx).await?;
    valid_ids(&first.tool_calls)?;
    expect_eq!(
        "ids for the same bytes (deterministic)",
        &second.tool_calls,
        &first.tool_calls
    );
    let got: Vec<_> = first.tool_calls.iter().map(|c| &c.provider_id).collect();
    // A gateway reached from outside may pass the vendor's ids through rather than the ones
    // concord's doors normalise; the client then keeps those.
    let vendor = cx.vendor_expected("bad_tool_ids")?;
    let raw: Vec<_> = vendor.tool_calls.iter().map(|c| &c.provider_id).collect();
    if !(cx.outside_gateway() && got == raw) {
        expect_eq!(
            "original ids kept in provider_id",
            got,
            want.tool_calls
                .iter()
                .map(|c| &c.provider_id)
                .collect::<Vec<_>>()
        );
    }
    for (g, w) in first.tool_calls.iter().zip(&want.tool_calls) {
        // Where the fixture keeps the vendor's id, it was valid and first of its name.
        if w.provider_id.as_deref() == Some(w.id.as_str()) {
            expect_eq!("a valid, unrepeated vendor id is kept", &g.id, &w.id);
        }
    }
    Ok(())
}

pub async fn tool_007(cx: &Cx<'_>) -> CheckResultOf {
    cx.require(cx.caps().tools, "tool calling")?;
    let mock = cx.mock("tool_result").await?;
    cx.generate_ok(&round_trip_history(true), &cx.ctx(&mock))
        .await?;
    let result = tool_result_on_wire(cx.protocol(), &mock.requests()[0].body)?;
    if cx.subject.door() == Some(crate::served::Door::Openai) {
        // The flag cannot cross the door: the text must still arrive intact.
        let text = result.to_string();
        if !text.contains("18C, sunny") {
            fail!("the tool result's text did not reach the vendor: {result}");
        }
        return Ok(());
    }
    match cx.protocol() {
        Protocol::Anthropic => expect_eq!("is_error", result["is_error"].as_bool(), Some(true)),
        Protocol::Gemini => expect_eq!(
            "functionResponse.response.error (Gemini's documented key)",
            result["response"]["error"].as_str(),
            Some("18C, sunny")
        ),
        // Responses has no error flag either: the output text must arrive intact.
        Protocol::OpenaiResponses => expect_eq!(
            "function_call_output output",
            result["output"].as_str(),
            Some("18C, sunny")
        ),
        // Chat Completions has no error flag: the text is the only carrier, and it must arrive intact.
        Protocol::Openai => expect_eq!(
            "tool message content",
            result["content"].as_str(),
            Some("18C, sunny")
        ),
    }
    Ok(())
}

pub async fn tool_008(cx: &Cx<'_>) -> CheckResultOf {
    cx.require(cx.caps().tools, "tool calling")?;
    let mock = cx.mock("bad_arguments").await?;
    let ctx = cx.ctx(&mock);
    let sc = cx
        .fixtures
        .scenario(cx.protocol(), "bad_arguments")
        .map_err(|e| crate::Outcome::Fail(e.to_string()))?;
    if sc.file.generate.is_some() {
        match cx.generate(&tool_request(), &ctx).await {
            Err(e) if e.kind == ErrorKind::MalformedResponse => {}
            other => fail!(
                "generate: expected malformed_response, saw {:?}",
                other.map(|r| r.tool_calls)
            ),
        }
    }
    if sc.file.stream.is_some() && cx.caps().streaming {
        let (events, err) = cx.stream(&tool_request(), &ctx).await;
        match err {
            Some(e) if e.kind == ErrorKind::MalformedResponse => {}
            other => fail!("stream: expected malformed_response, saw {other:?} after {events:?}"),
        }
        if events.iter().any(|e| {
            matches!(
                e,
                StreamEvent::ToolCallEnd { .. } | StreamEvent::Finish { .. }
            )
        }) {
            fail!("stream: a call with bad arguments must not end cleanly: {events:?}");
        }
    }
    Ok(())
}
