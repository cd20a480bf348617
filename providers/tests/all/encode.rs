//! Request encoding: one rich request per protocol as an insta snapshot of the wire body
//! (reviewed against the vendors' docs), plus targeted assertions on what must (not) be there.

use concord::{
    context::resolve, ContentPart, Credential, ImageSource, Message, Parameters, Provider,
    ReasoningBlock, ReasoningOptions, Request, ResponseFormat, RuntimeContext, Tool, ToolCall,
    ToolChoice,
};
use serde_json::{json, Value};

const KEY: &str = "sk-test-0123456789abcdef";

fn ctx(base: &str) -> RuntimeContext {
    RuntimeContext::new()
        .model("test-model")
        .credential(KEY)
        .base_url(base)
        .client(reqwest::Client::new())
}

fn rich_request() -> Request {
    Request {
        messages: vec![
            Message::system("You are terse."),
            Message::User {
                content: vec![
                    ContentPart::Text {
                        text: "What is in these images, and the weather in Paris?".into(),
                    },
                    ContentPart::Image {
                        source: ImageSource::Base64 {
                            media_type: "image/png".into(),
                            data: "iVBORw0KGgo=".into(),
                        },
                    },
                    ContentPart::Image {
                        source: ImageSource::Url {
                            url: "https://example.com/cat.webp".into(),
                        },
                    },
                ],
            },
            Message::Assistant {
                content: "Checking.".into(),
                // An Anthropic thinking block (signed) and a redacted one: Anthropic gets both
                // back first in the turn; the other protocols have no place for them.
                reasoning: vec![
                    ReasoningBlock {
                        text: "Paris needs the weather tool.".into(),
                        signature: Some("EqQBCgIYAhIM-signature".into()),
                        ..ReasoningBlock::default()
                    },
                    ReasoningBlock {
                        redacted: Some("EmwKAhgBEgy-redacted".into()),
                        ..ReasoningBlock::default()
                    },
                ],
                tool_calls: vec![
                    ToolCall {
                        id: "call|1".into(),
                        provider_id: None,
                        name: "get_weather".into(),
                        arguments: json!({"location": "Paris"}),
                        signature: Some("CiQB-signature".into()),
                    },
                    ToolCall {
                        id: "call_2".into(),
                        provider_id: None,
                        name: "get_time".into(),
                        arguments: json!({}),
                        signature: None,
                    },
                ],
            },
            Message::tool_result("call|1", "18C and sunny"),
            Message::Tool {
                call_id: "call_2".into(),
                content: "clock unavailable".into(),
                is_error: true,
            },
            Message::user("Thanks. And tomorrow?"),
        ],
        tools: vec![Tool {
            name: "get_weather".into(),
            description: "Current weather for a place".into(),
            parameters: json!({"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}),
        }],
        tool_choice: Some(ToolChoice::Named("get_weather".into())),
        params: Parameters {
            temperature: Some(0.2),
            top_p: Some(0.9),
            max_output_tokens: Some(256),
            stop: vec!["END".into()],
        },
        response_format: Some(ResponseFormat {
            name: "weather".into(),
            schema: json!({"type": "object"}),
            strict: true,
        }),
        reasoning: Some(ReasoningOptions {
            budget_tokens: Some(2048),
            effort: None,
        }),
    }
}

macro_rules! wire {
    ($adapter:expr, $base:expr, $req:expr, $stream:expr) => {{
        let adapter = $adapter;
        let ctx = ctx($base);
        let call = resolve(
            adapter.name(),
            &adapter.capabilities(),
            &$req,
            &ctx,
            $stream,
        )
        .unwrap();
        adapter.encode(&call, &$req, $stream).unwrap()
    }};
}

#[test]
fn openai_rich_request() {
    let p = concord::builtin("openai").unwrap();
    let wire = wire!(&p, "http://h/v1/", rich_request(), true);
    assert_eq!(wire.url, "http://h/v1/chat/completions");
    assert_eq!(
        p.auth().header(&Credential::new(KEY)),
        ("authorization", format!("Bearer {KEY}"))
    );
    insta::assert_json_snapshot!(wire.json());
}

#[test]
fn anthropic_rich_request() {
    let p = concord::builtin("anthropic").unwrap();
    let wire = wire!(&p, "http://h", rich_request(), true);
    assert_eq!(wire.url, "http://h/v1/messages");
    assert_eq!(
        p.auth().header(&Credential::new(KEY)),
        ("x-api-key", KEY.to_owned())
    );
    assert!(wire
        .headers
        .contains(&("anthropic-version".into(), "2023-06-01".into())));
    insta::assert_json_snapshot!(wire.json());
}

#[test]
fn gemini_rich_request() {
    let p = concord::builtin("gemini").unwrap();
    let wire = wire!(&p, "http://h", rich_request(), true);
    assert_eq!(
        wire.url,
        "http://h/v1beta/models/test-model:streamGenerateContent?alt=sse"
    );
    assert_eq!(
        p.auth().header(&Credential::new(KEY)),
        ("x-goog-api-key", KEY.to_owned())
    );
    assert!(!wire.url.contains(KEY));
    insta::assert_json_snapshot!(wire.json());
}

#[test]
fn openrouter_and_compatible_use_their_field_names() {
    let mut req = Request::user("hi");
    req.params.max_output_tokens = Some(10);
    req.reasoning = Some(ReasoningOptions {
        budget_tokens: None,
        effort: Some("high".into()),
    });
    let or = wire!(
        concord::builtin("openrouter").unwrap(),
        "http://h/api/v1",
        req,
        false
    )
    .json();
    assert_eq!(or["max_tokens"], 10);
    assert_eq!(or["reasoning"], json!({"effort": "high"}));
    assert!(or.get("max_completion_tokens").is_none() && or.get("reasoning_effort").is_none());
    let oa = wire!(
        concord::builtin("openai").unwrap(),
        "http://h/v1",
        req,
        false
    )
    .json();
    assert_eq!(oa["max_completion_tokens"], 10);
    assert_eq!(oa["reasoning_effort"], "high");
    assert!(oa.get("stream").is_none() && oa.get("stream_options").is_none());
}

/// CTR-005: unset parameters are absent, not null.
#[test]
fn unset_parameters_are_absent() {
    let mut req = Request::user("hi");
    req.params.max_output_tokens = Some(5);
    let bodies = [
        wire!(
            concord::builtin("openai").unwrap(),
            "http://h/v1",
            req,
            false
        )
        .json(),
        wire!(
            concord::builtin("anthropic").unwrap(),
            "http://h",
            req,
            false
        )
        .json(),
        wire!(concord::builtin("gemini").unwrap(), "http://h", req, false).json(),
    ];
    let text = bodies.iter().map(Value::to_string).collect::<String>();
    for absent in [
        "temperature",
        "top_p",
        "topP",
        "stop",
        "tools",
        "tool_choice",
        "toolConfig",
        "response_format",
        "thinking",
        "null",
    ] {
        assert!(
            !text.contains(&format!("\"{absent}\"")) && !text.contains(":null"),
            "{absent} in {text}"
        );
    }
}

/// Settings fill what the request leaves unset; the request wins where it sets a value.
#[test]
fn request_parameters_override_context_settings() {
    let mut req = Request::user("hi");
    req.params.temperature = Some(0.5);
    let ctx = ctx("http://h/v1").settings(Parameters {
        temperature: Some(1.5),
        max_output_tokens: Some(99),
        ..Default::default()
    });
    let a = concord::builtin("openai").unwrap();
    let call = resolve(a.name(), &a.capabilities(), &req, &ctx, false).unwrap();
    let body = a.encode(&call, &req, false).unwrap().json();
    assert_eq!(
        (
            body["temperature"].as_f64(),
            body["max_completion_tokens"].as_u64()
        ),
        (Some(0.5), Some(99))
    );
}

/// B3: history ids are sent normalised, and a call and its result still match.
#[test]
fn history_tool_ids_are_normalised_consistently() {
    let a = wire!(
        concord::builtin("anthropic").unwrap(),
        "http://h",
        rich_request(),
        false
    )
    .json();
    let use_id = a["messages"][1]["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "tool_use")
        .and_then(|b| b["id"].as_str())
        .unwrap()
        .to_owned();
    let result_id = a["messages"][2]["content"][0]["tool_use_id"]
        .as_str()
        .unwrap();
    assert_eq!(use_id, result_id);
    assert!(concord::ids::is_valid(&use_id) && use_id != "call|1");
}

#[test]
fn anthropic_needs_max_tokens_before_sending() {
    let a = concord::builtin("anthropic").unwrap();
    let req = Request::user("hi");
    let ctx = ctx("http://h");
    let call = resolve(a.name(), &a.capabilities(), &req, &ctx, false).unwrap();
    let err = a.encode(&call, &req, false).unwrap_err();
    assert_eq!(err.kind, concord::ErrorKind::MissingRuntimeContext);
    assert!(err.message.contains("max_output_tokens"), "{err}");
}

#[test]
fn gemini_tool_result_without_a_call_is_rejected() {
    let req = Request {
        messages: vec![Message::user("hi"), Message::tool_result("nope", "x")],
        ..Default::default()
    };
    let g = concord::builtin("gemini").unwrap();
    let ctx = ctx("http://h");
    let call = resolve(g.name(), &g.capabilities(), &req, &ctx, false).unwrap();
    let err = g.encode(&call, &req, false).unwrap_err();
    assert_eq!(err.kind, concord::ErrorKind::InvalidRequest);
}

/// Extended thinking with tool use over turns: the thinking blocks of a response (signed and
/// redacted) go back first in the assistant turn, unchanged, as Anthropic requires.
#[test]
fn anthropic_thinking_blocks_go_back_in_history() {
    let a = concord::builtin("anthropic").unwrap();
    let sc = concord_harness::Fixtures::default()
        .scenario(concord_harness::Protocol::Anthropic, "thinking_tools")
        .unwrap();
    let answer = a.decode_response(&sc.generate_body.unwrap()).unwrap();
    let call = &answer.tool_calls[0];
    let req = Request {
        messages: vec![
            Message::user("Weather in Paris?"),
            Message::from_response(&answer),
            Message::tool_result(call.id.clone(), "18C"),
        ],
        params: Parameters {
            max_output_tokens: Some(64),
            ..Parameters::default()
        },
        ..Request::default()
    };
    let body = wire!(a, "http://h", req, false).json();
    let vendor: Value = serde_json::from_slice(
        &concord_harness::Fixtures::default()
            .scenario(concord_harness::Protocol::Anthropic, "thinking_tools")
            .unwrap()
            .generate_body
            .unwrap(),
    )
    .unwrap();
    // The assistant turn is the vendor's content, block for block.
    assert_eq!(body["messages"][1]["content"], vendor["content"]);
}
