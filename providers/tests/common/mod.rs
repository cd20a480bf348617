//! What the adapter tests share: the provider that speaks each mock protocol.

use concord::{Api, HttpProvider};
use concord_harness::Protocol;

/// The reference provider for a harness protocol: OpenAI for both OpenAI wire formats.
pub fn provider(protocol: Protocol) -> HttpProvider {
    let (name, api) = match protocol {
        Protocol::Openai => ("openai", Api::Chat),
        Protocol::OpenaiResponses => ("openai", Api::Responses),
        Protocol::Anthropic => ("anthropic", Api::Messages),
        Protocol::Gemini => ("gemini", Api::GenerateContent),
    };
    concord::descriptor::get(name)
        .unwrap()
        .provider(Some(api))
        .unwrap()
}
