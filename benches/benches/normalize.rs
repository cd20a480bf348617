//! Normalisation: a 10-message, 5-tool request with a runtime context, resolved and encoded to
//! the wire body, per protocol. Budget 5 ms per call; target median under 50 µs.

use concord::context::resolve;
use concord::{
    ContentPart, ImageSource, Message, Parameters, Provider, Request, RuntimeContext, Tool,
    ToolCall, ToolChoice,
};
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;

fn request() -> Request {
    let tools = (0..5)
        .map(|i| Tool {
            name: format!("tool_{i}"),
            description: format!("Tool number {i}, which looks something up"),
            parameters: json!({"type": "object", "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}}, "required": ["query"]}),
        })
        .collect();
    let mut messages = vec![Message::system(
        "You are a helpful assistant. Answer briefly.",
    )];
    for i in 0..3 {
        messages.push(Message::User {
            content: vec![
                ContentPart::Text {
                    text: format!(
                        "Question {i}: what is the weather like in city number {i} today?"
                    ),
                },
                ContentPart::Image {
                    source: ImageSource::Url {
                        url: format!("https://example.com/{i}.png"),
                    },
                },
            ],
        });
        messages.push(Message::Assistant {
            content: "Let me look.".into(),
            reasoning: Vec::new(),
            tool_calls: vec![ToolCall {
                id: format!("call_{i}"),
                provider_id: None,
                name: "tool_0".into(),
                arguments: json!({"query": format!("city {i}")}),
                signature: None,
            }],
        });
        messages.push(Message::tool_result(
            format!("call_{i}"),
            "18C, sunny, light wind from the west",
        ));
    }
    assert_eq!(messages.len(), 10);
    Request {
        messages,
        tools,
        tool_choice: Some(ToolChoice::Auto),
        params: Parameters {
            temperature: Some(0.7),
            top_p: None,
            max_output_tokens: Some(512),
            stop: vec!["END".into()],
        },
        ..Request::default()
    }
}

fn bench(c: &mut Criterion) {
    let request = request();
    let ctx = RuntimeContext::new()
        .model("bench-model")
        .credential("sk-bench-0123456789")
        .base_url("https://vendor.example/v1")
        .header("x-tenant", "t1")
        .client(reqwest::Client::new());
    let mut group = c.benchmark_group("normalize");
    // The Responses API has no stop sequences (the encoder refuses them).
    let mut no_stop = request.clone();
    no_stop.params.stop.clear();
    macro_rules! protocol {
        ($name:literal, $adapter:expr) => {
            protocol!($name, $adapter, request)
        };
        ($name:literal, $adapter:expr, $request:ident) => {{
            let adapter = $adapter;
            let request = &$request;
            group.bench_function($name, |b| {
                b.iter(|| {
                    let call = resolve(
                        adapter.name(),
                        &adapter.capabilities(),
                        std::hint::black_box(request),
                        &ctx,
                        false,
                    )
                    .unwrap();
                    adapter.encode(&call, request, false).unwrap()
                })
            });
        }};
    }
    protocol!("openai", concord::builtin("openai").unwrap());
    protocol!(
        "openai-responses",
        concord::descriptor::get("openai")
            .unwrap()
            .provider(Some(concord::Api::Responses))
            .unwrap(),
        no_stop
    );
    protocol!("anthropic", concord::builtin("anthropic").unwrap());
    protocol!("gemini", concord::builtin("gemini").unwrap());
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
