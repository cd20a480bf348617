//! The caller-side versions of checks, for live mode (docs/conformance.md, "Live runs"): a
//! live-safe prompt to a real server, and a verdict reached from what the caller gets back
//! alone. In mock mode the same check ids observe the wire instead (the other modules).
//!
//! The prompts ask for what the mock's `auto` scenario can answer (its fixtures' tools are
//! `get_weather`, `get_time`, `get_time_now`; its JSON answer is a person with a name and a
//! birth year), so CI runs these against `concord mock` as it would against a vendor.

use concord::{
    ErrorKind, FinishReason, Message, Parameters, ReasoningOptions, Request, Response,
    ResponseFormat, Tool, ToolChoice, Usage,
};
use concord_harness::mock::AUTO;
use serde_json::{json, Value};

use crate::cx::Cx;
use crate::outcome::{CheckResultOf, Outcome};
use crate::{expect_eq, fail};

fn weather_tool() -> Tool {
    Tool {
        name: "get_weather".into(),
        description: "The current weather in a city.".into(),
        parameters: json!({
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "City name, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
            },
            "required": ["location"]
        }),
    }
}

fn time_tool() -> Tool {
    Tool {
        name: "get_time".into(),
        description: "The current time in an IANA timezone.".into(),
        parameters: json!({
            "type": "object",
            "properties": {"timezone": {"type": "string", "description": "e.g. Asia/Tokyo"}},
            "required": ["timezone"]
        }),
    }
}

fn time_now_tool() -> Tool {
    Tool {
        name: "get_time_now".into(),
        description: "The current UTC time. Takes no arguments.".into(),
        parameters: json!({"type": "object", "properties": {}}),
    }
}

fn with_tools(prompt: &str, tools: Vec<Tool>, choice: ToolChoice) -> Request {
    Request {
        tools,
        tool_choice: Some(choice),
        ..Request::user(prompt)
    }
}

/// Generate, and stream when the provider streams, each assembled into a response.
async fn both(cx: &Cx<'_>, req: &Request) -> CheckResultOf<Vec<(&'static str, Response)>> {
    let endpoint = cx.endpoint(AUTO).await?;
    let ctx = cx.ctx_for(&endpoint);
    let mut out = vec![("generate", cx.generate_ok(req, &ctx).await?)];
    if cx.caps().streaming {
        out.push(("stream", cx.stream_ok(req, &ctx).await?.1));
    }
    Ok(out)
}

/// B2's rules as a caller can see them: complete counts that add up, parts within their whole.
fn usage_ok(what: &str, u: &Usage) -> CheckResultOf {
    let (Some(input), Some(output), Some(total)) =
        (u.input_tokens, u.output_tokens, u.total_tokens)
    else {
        fail!("{what}: usage must have input, output and total tokens, saw {u:?}");
    };
    if input == 0 || input + output != total {
        fail!("{what}: usage must count the prompt and have total = input + output, saw {u:?}");
    }
    if u.cache_read_tokens.unwrap_or(0) + u.cache_write_tokens.unwrap_or(0) > input {
        fail!("{what}: cached tokens are part of the input and cannot exceed it, saw {u:?}");
    }
    if u.reasoning_tokens.unwrap_or(0) > output {
        fail!("{what}: reasoning tokens are part of the output and cannot exceed it, saw {u:?}");
    }
    Ok(())
}

/// Every call names a declared tool, carries an object with the tool's required keys, and has a
/// valid unique id; at least `min` of them, with the finish that says so.
fn calls_ok(what: &str, r: &Response, tools: &[Tool], min: usize) -> CheckResultOf {
    if r.tool_calls.len() < min {
        fail!(
            "{what}: expected at least {min} tool call(s), got {}: text {:?}, finish {:?}",
            r.tool_calls.len(),
            r.text,
            r.finish_reason
        );
    }
    expect_eq!(
        format!("{what}: finish"),
        r.finish_reason,
        FinishReason::ToolCalls
    );
    super::valid_ids(&r.tool_calls)?;
    for call in &r.tool_calls {
        let Some(tool) = tools.iter().find(|t| t.name == call.name) else {
            fail!("{what}: a call of {:?}, which was not declared", call.name);
        };
        let Some(args) = call.arguments.as_object() else {
            fail!(
                "{what}: the arguments of {} are not an object: {}",
                call.name,
                call.arguments
            );
        };
        for key in tool.parameters["required"].as_array().into_iter().flatten() {
            let key = key.as_str().unwrap_or_default();
            if !args.get(key).is_some_and(Value::is_string) {
                fail!(
                    "{what}: {} lacks its required string argument {key:?}: {}",
                    call.name,
                    call.arguments
                );
            }
        }
    }
    Ok(())
}

fn has_text(what: &str, r: &Response) -> CheckResultOf {
    if r.text.trim().is_empty() {
        fail!(
            "{what}: the answer text is empty (finish {:?})",
            r.finish_reason
        );
    }
    Ok(())
}

/// CTR-003 live: the same question generated and streamed ends the same way, with text and
/// consistent usage each time (a live model's words differ between calls; its shape must not).
pub async fn ctr_003(cx: &Cx<'_>) -> CheckResultOf {
    cx.require(cx.caps().streaming, "streaming")?;
    let runs = both(cx, &Request::user("Say hello in five words.")).await?;
    for (what, r) in &runs {
        has_text(what, r)?;
        expect_eq!(
            format!("{what}: finish"),
            r.finish_reason,
            FinishReason::Stop
        );
        if *what == "generate" || cx.caps().usage_in_streams {
            usage_ok(what, &r.usage)?;
        }
    }
    Ok(())
}

/// CTR-004 live: the system prompt is obeyed, so it reached the place the vendor reads it from.
pub async fn ctr_004(cx: &Cx<'_>) -> CheckResultOf {
    let endpoint = cx.endpoint(AUTO).await?;
    let req = Request {
        messages: vec![
            Message::system("Reply with only the word 'marmalade', nothing else."),
            Message::user("Say hello."),
        ],
        ..Request::default()
    };
    let r = cx.generate_ok(&req, &cx.ctx_for(&endpoint)).await?;
    if !r.text.to_lowercase().contains("marmalade") {
        fail!(
            "the system prompt asked for the word 'marmalade'; the answer was {:?}",
            r.text
        );
    }
    Ok(())
}

/// TOOL-001 live: a forced call of one tool, with arguments that fit its schema.
pub async fn tool_001(cx: &Cx<'_>) -> CheckResultOf {
    cx.require(
        cx.caps().tools && cx.caps().tool_choice,
        "forced tool calls",
    )?;
    let tools = vec![weather_tool()];
    let req = with_tools(
        "What's the weather in Paris?",
        tools.clone(),
        ToolChoice::Named("get_weather".into()),
    );
    for (what, r) in both(cx, &req).await? {
        calls_ok(what, &r, &tools, 1)?;
    }
    Ok(())
}

/// TOOL-002 live: two independent calls asked for at once arrive as separate, complete calls.
pub async fn tool_002(cx: &Cx<'_>) -> CheckResultOf {
    cx.require(
        cx.caps().tools && cx.caps().tool_choice && cx.caps().parallel_tools,
        "parallel tool calls",
    )?;
    let tools = vec![weather_tool(), time_tool()];
    let req = with_tools(
        "What's the weather in Paris and in Tokyo? Call get_weather for both cities at once.",
        tools.clone(),
        ToolChoice::Required,
    );
    for (what, r) in both(cx, &req).await? {
        calls_ok(what, &r, &tools, 2)?;
    }
    Ok(())
}

/// TOOL-003 live: a tool without parameters is called with `{}`.
pub async fn tool_003(cx: &Cx<'_>) -> CheckResultOf {
    cx.require(
        cx.caps().tools && cx.caps().tool_choice,
        "forced tool calls",
    )?;
    let tools = vec![time_now_tool()];
    let req = with_tools(
        "What time is it?",
        tools.clone(),
        ToolChoice::Named("get_time_now".into()),
    );
    for (what, r) in both(cx, &req).await? {
        calls_ok(what, &r, &tools, 1)?;
        expect_eq!(
            format!("{what}: arguments"),
            &r.tool_calls[0].arguments,
            &json!({})
        );
    }
    Ok(())
}

/// TOOL-004 live: a call the server made, sent back with its result, is accepted and answered
/// (whatever the vendor needs to see again, signatures included, went back with it).
pub async fn tool_004(cx: &Cx<'_>) -> CheckResultOf {
    cx.require(
        cx.caps().tools && cx.caps().tool_choice,
        "forced tool calls",
    )?;
    let endpoint = cx.endpoint(AUTO).await?;
    let ctx = cx.ctx_for(&endpoint);
    let tools = vec![weather_tool()];
    let question = "What's the weather in Paris?";
    let ask = with_tools(
        question,
        tools.clone(),
        ToolChoice::Named("get_weather".into()),
    );
    let answer = cx.generate_ok(&ask, &ctx).await?;
    calls_ok("the call", &answer, &tools, 1)?;
    let mut messages = vec![Message::user(question), Message::from_response(&answer)];
    messages.extend(
        answer
            .tool_calls
            .iter()
            .map(|c| Message::tool_result(c.id.clone(), "18C, sunny")),
    );
    let follow_up = Request {
        messages,
        tools,
        tool_choice: Some(ToolChoice::Auto),
        ..Request::default()
    };
    let r = cx
        .generate(&follow_up, &ctx)
        .await
        .map_err(|e| Outcome::Fail(format!("the server refused the tool result: {e}")))?;
    has_text("the answer to the tool result", &r)?;
    expect_eq!(
        "finish after the tool result",
        r.finish_reason,
        FinishReason::Stop
    );
    Ok(())
}

/// TOOL-005 live: `tool_choice: none` with tools declared gives text, no calls.
pub async fn tool_005(cx: &Cx<'_>) -> CheckResultOf {
    cx.require(cx.caps().tools && cx.caps().tool_choice, "tool choice")?;
    let req = with_tools(
        "What's the weather usually like in Paris in spring? Answer in one sentence.",
        vec![weather_tool()],
        ToolChoice::None,
    );
    for (what, r) in both(cx, &req).await? {
        if !r.tool_calls.is_empty() {
            fail!(
                "{what}: tool_choice none, yet tool calls came back: {:?}",
                r.tool_calls
            );
        }
        has_text(what, &r)?;
    }
    Ok(())
}

/// JSON-001 live: output under a strict JSON schema parses and validates against it.
pub async fn json_001(cx: &Cx<'_>) -> CheckResultOf {
    cx.require(cx.caps().json_schema, "JSON-schema output")?;
    let endpoint = cx.endpoint(AUTO).await?;
    let req = Request {
        response_format: Some(ResponseFormat {
            name: "person".into(),
            schema: json!({"type": "object", "properties": {"name": {"type": "string"}, "born": {"type": "integer"}}, "required": ["name", "born"], "additionalProperties": false}),
            strict: true,
        }),
        ..Request::user(
            "Who wrote the first published computer program? Give her name and birth year.",
        )
    };
    let r = cx.generate_ok(&req, &cx.ctx_for(&endpoint)).await?;
    let value: Value = serde_json::from_str(&r.text)
        .map_err(|e| Outcome::Fail(format!("the answer is not JSON ({e}): {:?}", r.text)))?;
    let Some(object) = value.as_object() else {
        fail!("the schema asks for an object; got {value}");
    };
    if !object["name"].is_string() || !object.get("born").is_some_and(Value::is_i64) {
        fail!("the schema asks for a string name and an integer born; got {value}");
    }
    if let Some(extra) = object.keys().find(|k| *k != "name" && *k != "born") {
        fail!("the schema forbids other properties; got {extra:?} in {value}");
    }
    Ok(())
}

/// RSN-001 live: with reasoning asked for, reasoning stays out of the text and its tokens
/// within the output's.
pub async fn rsn_001(cx: &Cx<'_>) -> CheckResultOf {
    cx.require(cx.caps().reasoning_options, "reasoning options")?;
    let endpoint = cx.endpoint(AUTO).await?;
    let req = Request {
        reasoning: Some(ReasoningOptions {
            budget_tokens: Some(1024),
            effort: Some("low".into()),
        }),
        // Anthropic wants max_tokens above the thinking budget.
        params: Parameters {
            max_output_tokens: Some(2048),
            ..Parameters::default()
        },
        ..Request::user("What is 27 * 453? Answer with the number.")
    };
    let ctx = cx.ctx_for(&endpoint);
    let r = match cx.generate(&req, &ctx).await {
        Ok(r) => r,
        Err(e) if e.kind == ErrorKind::InvalidRequest => {
            return Err(Outcome::Skip(format!(
                "the live model takes no reasoning options (use a reasoning model): {e}"
            )))
        }
        Err(e) => fail!("generate failed: {e}"),
    };
    let mut runs = vec![("generate", r)];
    if cx.caps().streaming {
        runs.push(("stream", cx.stream_ok(&req, &ctx).await?.1));
    }
    for (what, r) in &runs {
        has_text(what, r)?;
        if let Some(reasoning) = r.reasoning.as_deref().filter(|s| !s.trim().is_empty()) {
            if r.text.contains(reasoning.trim()) {
                fail!(
                    "{what}: the reasoning is repeated in the answer text: {:?}",
                    r.text
                );
            }
        }
        if *what == "generate" || cx.caps().usage_in_streams {
            usage_ok(what, &r.usage)?;
        }
    }
    Ok(())
}

/// USE-001 live: usage follows B2 in generate and in the stream's finish.
pub async fn use_001(cx: &Cx<'_>) -> CheckResultOf {
    for (what, r) in both(cx, &Request::user("Say hello.")).await? {
        if what == "generate" || cx.caps().usage_in_streams {
            usage_ok(what, &r.usage)?;
        }
    }
    Ok(())
}
