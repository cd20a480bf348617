//! Failures before and around the wire: missing context, missing capabilities, refused
//! connections and stalls each get their own kind (B5), and nothing is sent when the call
//! cannot be made.

use std::time::{Duration, Instant};

use concord::{
    Capabilities, ContentPart, ErrorKind, ImageSource, Message, Provider, Request, RuntimeContext,
};

fn ctx(base: &str) -> RuntimeContext {
    RuntimeContext::new()
        .model("m")
        .credential("sk-test-0123456789")
        .base_url(base)
        .client(reqwest::Client::new())
}

#[tokio::test]
async fn each_missing_field_is_named_before_anything_is_sent() {
    let server = wiremock::MockServer::start().await;
    let full = ctx(&format!("{}/v1", server.uri()));
    type Strip = fn(&mut RuntimeContext);
    let strips: [(&str, Strip); 5] = [
        ("model", |c| c.model = None),
        ("credential", |c| c.credential = None),
        ("base_url", |c| c.base_url = None),
        ("client", |c| c.client = None),
        ("model", |c| c.model = Some(String::new())),
    ];
    for (field, strip) in strips {
        let mut c = full.clone();
        strip(&mut c);
        let err = concord::builtin("openai")
            .unwrap()
            .generate(&Request::user("hi"), &c)
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::MissingRuntimeContext, "{field}");
        assert!(err.message.contains(field), "{field}: {err}");
        assert!(!err.retryable);
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_missing_capability_is_unsupported_before_sending() {
    let server = wiremock::MockServer::start().await;
    let no_images = concord::builtin("openai")
        .unwrap()
        .with_capabilities(Capabilities {
            image_input: false,
            ..Capabilities::ALL
        });
    let req = Request {
        messages: vec![Message::User {
            content: vec![ContentPart::Image {
                source: ImageSource::Url {
                    url: "https://x/y.png".into(),
                },
            }],
        }],
        ..Request::default()
    };
    let err = no_images
        .generate(&req, &ctx(&server.uri()))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported);
    assert!(err.message.contains("image input"), "{err}");
    let no_stream = concord::builtin("openai")
        .unwrap()
        .with_capabilities(Capabilities {
            streaming: false,
            ..Capabilities::ALL
        });
    let err = no_stream
        .stream(&Request::user("hi"), &ctx(&server.uri()))
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind, ErrorKind::Unsupported);
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_refused_connection_is_a_retryable_transport_error() {
    // Bind then drop a listener: the port is (almost certainly) closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = concord::builtin("openai")
        .unwrap()
        .generate(
            &Request::user("hi"),
            &ctx(&format!("http://127.0.0.1:{port}/v1")),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Transport, "{err}");
    assert!(err.retryable);
}

#[tokio::test]
async fn no_answer_within_the_timeout_is_a_timeout() {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let started = Instant::now();
    let c = ctx(&format!("{}/v1", server.uri())).timeout(Duration::from_millis(200));
    let err = concord::builtin("openai")
        .unwrap()
        .generate(&Request::user("hi"), &c)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Timeout, "{err}");
    assert!(err.retryable);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_body_that_is_not_json_is_malformed() {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_body_bytes(b"\xff\xfe not json".to_vec()),
        )
        .mount(&server)
        .await;
    let err = concord::builtin("openai")
        .unwrap()
        .generate(&Request::user("hi"), &ctx(&format!("{}/v1", server.uri())))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::MalformedResponse, "{err}");
    assert!(!err.retryable);
}

#[tokio::test]
async fn an_empty_request_is_invalid_before_sending() {
    let err = concord::builtin("openai")
        .unwrap()
        .generate(&Request::default(), &ctx("http://127.0.0.1:9/v1"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidRequest);
}

#[tokio::test]
async fn an_event_that_never_ends_is_cut_off_not_buffered_forever() {
    use futures_util::StreamExt;
    let megabyte = bytes::Bytes::from(vec![b'x'; 1 << 20]);
    let chunks = std::iter::once(bytes::Bytes::from_static(b"data: "))
        .chain(std::iter::repeat_n(megabyte, 17));
    let mut events = concord::builtin("openai")
        .unwrap()
        .decode_stream(futures_util::stream::iter(
            chunks.map(Ok::<_, std::convert::Infallible>),
        ));
    let err = events.next().await.expect("an item").expect_err("an error");
    assert_eq!(err.kind, ErrorKind::MalformedResponse, "{err}");
    assert!(events.next().await.is_none());
}
