//! The mock vendors in `auto` answer requests they have no fixture for, the way the vendor
//! would: a forced tool is called with arguments that fit its schema, a requested JSON Schema
//! gets an instance of it, streamed and not — through every adapter, judged by the
//! `jsonschema` crate rather than by the mock's own generator.
//!
//! The schemas follow the shapes of the vendors' own examples: OpenAI's Structured Outputs
//! guide (`math_reasoning`: an array of step objects; a strict `get_weather(location, units)`
//! with an enum), Anthropic's tool use guide (`get_stock_price(ticker)`), plus formats, bounds
//! and nesting as frameworks that force a tool "named after the schema" send them.

use concord::{
    assemble, Parameters, Provider, Request, ResponseFormat, RuntimeContext, Tool, ToolChoice,
};
use concord_harness::{MockVendor, Protocol};
use serde_json::{json, Value};

fn schemas() -> Vec<(&'static str, Value)> {
    vec![
        (
            "get_weather",
            json!({"type": "object", "properties": {
                "location": {"type": "string"},
                "units": {"type": "string", "enum": ["celsius", "fahrenheit"]}
            }, "required": ["location", "units"], "additionalProperties": false}),
        ),
        (
            "math_reasoning",
            json!({"type": "object", "properties": {
                "steps": {"type": "array", "items": {"type": "object", "properties": {
                    "explanation": {"type": "string"}, "output": {"type": "string"}
                }, "required": ["explanation", "output"], "additionalProperties": false}},
                "final_answer": {"type": "string"}
            }, "required": ["steps", "final_answer"], "additionalProperties": false}),
        ),
        (
            "book_meeting",
            json!({"type": "object", "properties": {
                "when": {"type": "string", "format": "date-time"},
                "email": {"type": "string", "format": "email"},
                "minutes": {"type": "integer", "minimum": 15, "maximum": 120, "multipleOf": 15},
                "room": {"type": "object", "properties": {
                    "floor": {"type": "integer", "minimum": 0, "maximum": 9},
                    "name": {"type": "string", "minLength": 3, "maxLength": 12}
                }, "required": ["floor"]},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3}
            }, "required": ["when", "email", "minutes", "room"]}),
        ),
        ("ping", json!({"type": "object", "properties": {}})),
    ]
}

fn ctx(vendor: &MockVendor) -> RuntimeContext {
    RuntimeContext::new()
        .model("mock-model")
        .credential("sk-test-0123456789")
        .base_url(vendor.base_url())
        .client(reqwest::Client::new())
}

/// Anthropic requires `max_tokens`.
fn params() -> Parameters {
    Parameters {
        max_output_tokens: Some(512),
        ..Parameters::default()
    }
}

/// The answer to `request` generated, and streamed and assembled.
async fn both(
    provider: &concord::HttpProvider,
    request: &Request,
    ctx: &RuntimeContext,
) -> (concord::Response, concord::Response) {
    let generated = provider.generate(request, ctx).await.unwrap();
    let streamed = assemble("mock", provider.stream(request, ctx).await.unwrap())
        .await
        .unwrap();
    (generated, streamed)
}

fn valid(what: &str, schema: &Value, instance: &Value) {
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .expect("a valid schema");
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: {instance} fails {schema}: {errors:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_tool_is_called_with_arguments_that_fit_its_schema() {
    for protocol in Protocol::ALL {
        let vendor = MockVendor::start(protocol, "auto").await.unwrap();
        let provider = crate::common::provider(protocol);
        let ctx = ctx(&vendor);
        let tools: Vec<Tool> = schemas()
            .into_iter()
            .map(|(name, parameters)| Tool {
                name: name.into(),
                description: format!("{name}, as a framework declares it."),
                parameters,
            })
            .collect();
        for (name, schema) in schemas() {
            let request = Request {
                tools: tools.clone(),
                tool_choice: Some(ToolChoice::Named(name.into())),
                params: params(),
                ..Request::user("Use the tool.")
            };
            let (generated, streamed) = both(&provider, &request, &ctx).await;
            for (how, r) in [("generate", generated), ("stream", streamed)] {
                let what = format!("{protocol} {how} {name}");
                assert_eq!(r.tool_calls.len(), 1, "{what}: {r:?}");
                assert_eq!(r.tool_calls[0].name, name, "{what}");
                assert_eq!(r.finish_reason, concord::FinishReason::ToolCalls, "{what}");
                assert_eq!(r.reasoning, None, "{what}: no thinking was asked for");
                assert_eq!(r.text, "", "{what}: nothing before a forced call");
                valid(&what, &schema, &r.tool_calls[0].arguments);
            }
        }
        // `required` / `any`: the first declared tool.
        let request = Request {
            tools: tools.clone(),
            tool_choice: Some(ToolChoice::Required),
            params: params(),
            ..Request::user("Use a tool.")
        };
        let r = provider.generate(&request, &ctx).await.unwrap();
        assert_eq!(r.tool_calls[0].name, "get_weather", "{protocol}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requested_json_schema_gets_an_instance_of_it() {
    for protocol in Protocol::ALL {
        let vendor = MockVendor::start(protocol, "auto").await.unwrap();
        let provider = crate::common::provider(protocol);
        let ctx = ctx(&vendor);
        for (name, schema) in schemas().into_iter().take(3) {
            let request = Request {
                response_format: Some(ResponseFormat {
                    name: name.into(),
                    schema: schema.clone(),
                    strict: true,
                }),
                params: params(),
                ..Request::user("Answer in the schema.")
            };
            let (generated, streamed) = both(&provider, &request, &ctx).await;
            // Seeded from the request without its streaming switch: the same answer both ways.
            assert_eq!(generated.text, streamed.text, "{protocol} {name}");
            let what = format!("{protocol} {name}");
            let answer: Value = serde_json::from_str(&generated.text)
                .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", generated.text));
            valid(&what, &schema, &answer);
        }
    }
}
