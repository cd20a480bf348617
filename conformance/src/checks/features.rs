//! RSN, JSON, MM and USE: reasoning, structured output, images, usage.

use concord::{
    ContentPart, ErrorKind, ImageSource, Message, ReasoningOptions, Request, ResponseFormat,
    StreamEvent,
};
use serde_json::{json, Value};

use crate::cx::Cx;
use crate::outcome::CheckResultOf;
use crate::{expect_eq, fail, probe, Protocol};

pub async fn rsn_001(cx: &Cx<'_>) -> CheckResultOf {
    cx.require(cx.caps().reasoning_output, "reasoning output")?;
    let want = cx.expected("reasoning")?;
    let mock = cx.mock("reasoning").await?;
    let ctx = cx.ctx(&mock);
    // A provider that returns reasoning without accepting options is asked without them.
    let req = Request {
        reasoning: cx.caps().reasoning_options.then_some(ReasoningOptions {
            budget_tokens: Some(1024),
            effort: None,
        }),
        ..Request::user("27 * 453?")
    };
    let g = cx.generate_ok(&req, &ctx).await?;
    let mut results = vec![("generate", g)];
    if cx.caps().streaming {
        let (events, s) = cx.stream_ok(&req, &ctx).await?;
        if !events
            .iter()
            .any(|e| matches!(e, StreamEvent::ReasoningDelta { .. }))
        {
            fail!("stream: no reasoning delta in {events:?}");
        }
        results.push(("stream", s));
    }
    let reasoning = want.reasoning.clone().unwrap_or_default();
    for (what, r) in results {
        expect_eq!(format!("{what}: reasoning"), r.reasoning, want.reasoning);
        expect_eq!(format!("{what}: text"), r.text, want.text);
        if !reasoning.is_empty() && r.text.contains(reasoning.trim()) {
            fail!("{what}: the reasoning leaked into the text: {:?}", r.text);
        }
        expect_eq!(
            format!("{what}: reasoning_tokens"),
            r.usage.reasoning_tokens,
            want.usage.reasoning_tokens
        );
        if let (Some(rt), Some(out)) = (r.usage.reasoning_tokens, r.usage.output_tokens) {
            if rt > out {
                fail!("{what}: reasoning_tokens {rt} must be counted inside output_tokens {out}");
            }
        }
    }
    Ok(())
}

pub async fn json_001(cx: &Cx<'_>) -> CheckResultOf {
    cx.require(cx.caps().json_schema, "JSON-schema output")?;
    let schema = json!({"type": "object", "properties": {"name": {"type": "string"}, "born": {"type": "integer"}}, "required": ["name", "born"], "additionalProperties": false});
    let mock = cx.mock("json_schema").await?;
    let req = Request {
        response_format: Some(ResponseFormat {
            name: "person".into(),
            schema: schema.clone(),
            strict: true,
        }),
        ..Request::user("Who was Ada?")
    };
    let r = cx.generate_ok(&req, &cx.ctx(&mock)).await?;
    if serde_json::from_str::<Value>(&r.text).is_err() {
        fail!("the answer text is not JSON: {:?}", r.text);
    }
    let body = &mock.requests()[0].body;
    // Anthropic's format names no schema: behind a server's Anthropic door it is `response`.
    let name = match cx.subject.door() {
        Some(crate::served::Door::Anthropic) => "response",
        _ => "person",
    };
    match cx.protocol() {
        Protocol::Openai => {
            expect_eq!(
                "response_format.type",
                body["response_format"]["type"].as_str(),
                Some("json_schema")
            );
            expect_eq!(
                "response_format.json_schema.schema",
                body["response_format"]["json_schema"]["schema"],
                schema
            );
            expect_eq!(
                "response_format.json_schema.name",
                body["response_format"]["json_schema"]["name"].as_str(),
                Some(name)
            );
        }
        Protocol::OpenaiResponses => {
            let format = &body["text"]["format"];
            expect_eq!(
                "text.format.type",
                format["type"].as_str(),
                Some("json_schema")
            );
            expect_eq!("text.format.schema", format["schema"], schema);
            expect_eq!("text.format.name", format["name"].as_str(), Some(name));
        }
        Protocol::Anthropic => {
            expect_eq!(
                "output_config.format.type",
                body["output_config"]["format"]["type"].as_str(),
                Some("json_schema")
            );
            expect_eq!(
                "output_config.format.schema",
                body["output_config"]["format"]["schema"],
                schema
            );
        }
        Protocol::Gemini => {
            expect_eq!(
                "generationConfig.responseMimeType",
                body["generationConfig"]["responseMimeType"].as_str(),
                Some("application/json")
            );
            // JSON Schema (with `additionalProperties`) is only accepted as `responseJsonSchema`;
            // the mock refuses it under `responseSchema` as the API does.
            expect_eq!(
                "generationConfig.responseJsonSchema",
                body["generationConfig"]["responseJsonSchema"],
                schema
            );
        }
    }
    Ok(())
}

fn image_request() -> Request {
    Request {
        messages: vec![Message::User {
            content: vec![
                ContentPart::Text {
                    text: "Describe both.".into(),
                },
                ContentPart::Image {
                    source: ImageSource::Base64 {
                        media_type: "image/png".into(),
                        data: "iVBORw0KGgoAAAANSUhEUg==".into(),
                    },
                },
                ContentPart::Image {
                    source: ImageSource::Url {
                        url: "https://example.com/red.png".into(),
                    },
                },
            ],
        }],
        ..Request::default()
    }
}

pub async fn mm_001(cx: &Cx<'_>) -> CheckResultOf {
    let mock = cx.mock("image_input").await?;
    let ctx = cx.ctx(&mock);
    if !cx.caps().image_input {
        // Declared absent: the call must fail with `unsupported` before anything is sent.
        match cx.generate(&image_request(), &ctx).await {
            Err(e) if e.kind == ErrorKind::Unsupported => {}
            other => fail!(
                "a provider without image input must fail with unsupported, saw {:?}",
                other.map(|r| r.text)
            ),
        }
        if !mock.requests().is_empty() {
            fail!("an unsupported request reached the vendor");
        }
        return Err(crate::Outcome::Skip(
            "no image input (unsupported raised before sending, as required)".into(),
        ));
    }
    cx.generate_ok(&image_request(), &ctx).await?;
    let body = &mock.requests()[0].body;
    let parts = probe::all_parts(cx.protocol(), body);
    let find = |pred: &dyn Fn(&Value) -> bool| parts.iter().any(|p| pred(p));
    let (b64, url) = match cx.protocol() {
        Protocol::Openai => (
            find(&|p| {
                p["type"] == "image_url"
                    && p["image_url"]["url"] == "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="
            }),
            find(&|p| {
                p["type"] == "image_url" && p["image_url"]["url"] == "https://example.com/red.png"
            }),
        ),
        Protocol::OpenaiResponses => (
            find(&|p| {
                p["type"] == "input_image"
                    && p["image_url"] == "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="
            }),
            find(&|p| {
                p["type"] == "input_image" && p["image_url"] == "https://example.com/red.png"
            }),
        ),
        Protocol::Anthropic => (
            find(&|p| {
                p["type"] == "image"
                    && p["source"]
                        == json!({"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgoAAAANSUhEUg=="})
            }),
            find(&|p| {
                p["type"] == "image"
                    && p["source"] == json!({"type": "url", "url": "https://example.com/red.png"})
            }),
        ),
        Protocol::Gemini => (
            find(&|p| {
                p["inlineData"]
                    == json!({"mimeType": "image/png", "data": "iVBORw0KGgoAAAANSUhEUg=="})
            }),
            find(&|p| {
                p["fileData"]["fileUri"] == "https://example.com/red.png"
                    && p["fileData"]["mimeType"].is_string()
            }),
        ),
    };
    if !(b64 && url) {
        fail!("image parts not in the protocol's form (base64 found: {b64}, url found: {url}): {body}");
    }
    Ok(())
}

pub async fn use_001(cx: &Cx<'_>) -> CheckResultOf {
    for scenario in ["cached_usage", "reasoning", "text"] {
        let want = cx.expected(scenario)?;
        let mock = cx.mock(scenario).await?;
        let ctx = cx.ctx(&mock);
        let g = cx.generate_ok(&Request::user("hi"), &ctx).await?;
        expect_eq!(format!("{scenario}: generate usage"), g.usage, want.usage);
        if cx.caps().streaming && cx.caps().usage_in_streams {
            let (events, s) = cx.stream_ok(&Request::user("hi"), &ctx).await?;
            expect_eq!(format!("{scenario}: stream usage"), s.usage, want.usage);
            let reported = events
                .iter()
                .filter(|e| matches!(e, StreamEvent::Finish { .. }))
                .count();
            expect_eq!(
                format!("{scenario}: usage reports in the stream"),
                reported,
                1
            );
        }
    }
    Ok(())
}
