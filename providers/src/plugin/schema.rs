//! The JSON Schema of every protocol message, generated from the Rust types ([`protocol`]) so
//! it cannot drift from them: `docs/plugin-protocol.schema.json` is this, written and checked
//! for freshness by `cargo xtask plugin-schema`. A plugin author in any language validates
//! their lines against it.
//!
//! [`protocol`]: super::protocol

use schemars::generate::SchemaSettings;
use serde_json::{json, Value};

use super::protocol::{Handshake, HostMessage, PluginMessage, PROTOCOL_VERSION};

/// One JSON Schema (draft 2020-12) for every line of the protocol: a line from the plugin is a
/// `Handshake` (first) or a `PluginMessage`; a line from the host is a `HostMessage`.
pub fn protocol_schema() -> Value {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let handshake = generator.subschema_for::<Handshake>();
    let host = generator.subschema_for::<HostMessage>();
    let plugin = generator.subschema_for::<PluginMessage>();
    let defs = generator.take_definitions(true);
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": format!("concord plugin protocol, version {PROTOCOL_VERSION}"),
        "description": "One line of the protocol (JSON lines over stdio; docs/plugins.md). From the plugin: a Handshake (its first line), then PluginMessages. From the host: HostMessages.",
        "oneOf": [handshake, host, plugin],
        "$defs": defs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_kind_is_in_the_schema() {
        let schema = protocol_schema();
        let defs = schema["$defs"].as_object().unwrap();
        for name in [
            "Handshake",
            "HostMessage",
            "PluginMessage",
            "Request",
            "Response",
            "StreamEvent",
            "WireError",
            "CallContext",
            "Capabilities",
        ] {
            assert!(defs.contains_key(name), "{name} missing: {:?}", defs.keys());
        }
        let text = schema.to_string();
        for tag in [
            "\"generate\"",
            "\"stream\"",
            "\"cancel\"",
            "\"response\"",
            "\"event\"",
            "\"error\"",
        ] {
            assert!(text.contains(tag), "message type {tag} missing");
        }
    }
}
