//! What the adapter tests share: the provider that speaks each mock protocol.

use concord::{Api, HttpProvider};
use concord_harness::Protocol;

/// The reference provider for a harness protocol.
pub fn provider(protocol: Protocol) -> HttpProvider {
    concord::descriptor::reference(match protocol {
        Protocol::Openai => Api::Chat,
        Protocol::OpenaiResponses => Api::Responses,
        Protocol::Anthropic => Api::Messages,
        Protocol::Gemini => Api::GenerateContent,
    })
    .unwrap()
}
