//! Absurd values a vendor or proxy might send become a capped value or a clear error, never a
//! panic (each case was found from outside, by fuzzing).

const MAX: u64 = u64::MAX;

#[test]
fn token_counts_near_u64_max_saturate() {
    let openai = format!(
        r#"{{"id":"c","model":"m","choices":[{{"message":{{"content":"hi"}},"finish_reason":"stop"}}],
            "usage":{{"prompt_tokens":{MAX},"completion_tokens":{MAX}}}}}"#
    );
    let anthropic = format!(
        r#"{{"id":"m","model":"m","content":[{{"type":"text","text":"hi"}}],"stop_reason":"end_turn",
            "usage":{{"input_tokens":{MAX},"cache_creation_input_tokens":{MAX},"cache_read_input_tokens":5,"output_tokens":{MAX}}}}}"#
    );
    let gemini = format!(
        r#"{{"candidates":[{{"content":{{"parts":[{{"text":"hi"}}]}},"finishReason":"STOP"}}],
            "usageMetadata":{{"promptTokenCount":{MAX},"candidatesTokenCount":{MAX},"thoughtsTokenCount":{MAX}}}}}"#
    );
    for usage in [
        concord::builtin("openai")
            .unwrap()
            .decode_response(openai.as_bytes())
            .unwrap()
            .usage,
        concord::builtin("anthropic")
            .unwrap()
            .decode_response(anthropic.as_bytes())
            .unwrap()
            .usage,
        concord::builtin("gemini")
            .unwrap()
            .decode_response(gemini.as_bytes())
            .unwrap()
            .usage,
    ] {
        assert_eq!(usage.input_tokens, Some(MAX), "{usage:?}");
        assert_eq!(usage.output_tokens, Some(MAX), "{usage:?}");
        assert_eq!(usage.total_tokens, Some(MAX), "{usage:?}");
    }
}

#[test]
fn a_gemini_retry_delay_of_1e20_seconds_is_capped() {
    let body = br#"{"error":{"code":429,"message":"slow down","status":"RESOURCE_EXHAUSTED",
        "details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1e20s"}]}}"#;
    // Served as an in-band error so the path is the same one a 429 body takes.
    let err = concord::builtin("gemini")
        .unwrap()
        .decode_response(body)
        .unwrap_err();
    assert_eq!(err.kind, concord::ErrorKind::RateLimited);
    assert_eq!(err.retry_after, Some(concord::wire::MAX_RETRY_AFTER));
}
