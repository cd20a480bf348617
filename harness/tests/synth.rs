//! Every instance the mock makes up for a caller's schema validates against it: random JSON
//! Schemas of the kinds vendors take in tool parameters and structured outputs (objects with
//! required and optional properties, `additionalProperties: false`, enums, consts, string
//! lengths and formats, number ranges, `multipleOf`, arrays with lengths, nesting, `anyOf`,
//! local `$ref`s), judged by the `jsonschema` crate.

use concord_harness::mock::synth::instance;
use proptest::prelude::*;
use serde_json::{json, Value};

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({"type": "string"})),
        (0u64..5, 5u64..20).prop_map(
            |(lo, extra)| json!({"type": "string", "minLength": lo, "maxLength": lo + extra})
        ),
        prop::sample::select(vec!["date", "date-time", "email", "uri", "uuid"])
            .prop_map(|f| json!({"type": "string", "format": f})),
        Just(json!({"type": "boolean"})),
        Just(json!({"type": "null"})),
        (-50i64..50, 0i64..100)
            .prop_map(|(lo, span)| json!({"type": "integer", "minimum": lo, "maximum": lo + span})),
        (1i64..10).prop_map(
            |m| json!({"type": "integer", "multipleOf": m, "minimum": 0, "maximum": 100})
        ),
        (-5i64..5).prop_map(
            |lo| json!({"type": "number", "exclusiveMinimum": lo, "exclusiveMaximum": lo + 3})
        ),
        prop::collection::vec("[a-z]{1,6}", 1..4).prop_map(|v| json!({"enum": v})),
        Just(json!({"const": "fixed"})),
        Just(json!({"type": ["string", "null"]})),
    ]
}

fn tree() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            (
                prop::collection::btree_map("[a-z]{1,8}", inner.clone(), 0..6),
                any::<bool>()
            )
                .prop_map(|(props, strict)| {
                    let required: Vec<&String> = props.keys().collect();
                    json!({"type": "object", "properties": props, "required": required,
                           "additionalProperties": !strict})
                }),
            (inner.clone(), 0u64..3, 0u64..3).prop_map(|(items, min, extra)| {
                json!({"type": "array", "items": items, "minItems": min, "maxItems": min + extra})
            }),
            prop::collection::vec(inner.clone(), 1..3)
                .prop_map(|branches| json!({"anyOf": branches})),
        ]
    })
}

/// A tree, or one whose definitions live in the root's `$defs` (where a `$ref` of `#/...`
/// points, so they are only generated at the root).
fn schema() -> impl Strategy<Value = Value> {
    prop_oneof![
        tree(),
        (tree(), tree()).prop_map(|(def, other)| json!({
            "type": "object",
            "properties": {"x": {"$ref": "#/$defs/d"}, "y": other, "z": {"type": "array", "items": {"$ref": "#/$defs/d"}}},
            "required": ["x", "y"],
            "additionalProperties": false,
            "$defs": {"d": def}
        })),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]
    #[test]
    fn every_instance_validates(schema in schema(), seed in any::<u64>()) {
        let v = instance(&schema, seed);
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("a valid schema");
        let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
        prop_assert!(errors.is_empty(), "{} for {}: {:?}", v, schema, errors);
        prop_assert_eq!(instance(&schema, seed), v, "deterministic");
    }
}
