//! The cost of every shipped protocol's recorded usage (each fixture's hand-written
//! `expect.usage`) against hand-computed expectations (`fixtures/costs.json`, written by hand,
//! never by the code under test).

use concord::Usage;
use concord_models::{cost, Price, PriceSet, Prices};
use serde_json::Value;

fn price(v: &Value, key: &str) -> Option<Price> {
    v.get(key)
        .and_then(Value::as_str)
        .map(|s| Price::per_million(s).unwrap())
}

fn set(v: &Value) -> PriceSet {
    PriceSet {
        input: price(v, "input").unwrap(),
        output: price(v, "output").unwrap(),
        cache_read: price(v, "cache_read"),
        cache_write: price(v, "cache_write"),
        cache_write_1h: price(v, "cache_write_1h"),
        reasoning: price(v, "reasoning"),
    }
}

fn fixture_usage(name: &str) -> Usage {
    let path = format!(
        "{}/../fixtures/{name}/scenario.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let sc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    serde_json::from_value(sc["expect"]["usage"].clone()).unwrap()
}

#[test]
fn every_recorded_usage_costs_what_the_hand_computation_says() {
    let data: Value = serde_json::from_str(include_str!("../../fixtures/costs.json")).unwrap();
    let cases = data["cases"].as_array().unwrap();
    assert!(cases.len() >= 12);
    for case in cases {
        let p = &data["prices"][case["prices"].as_str().unwrap()];
        let prices = Prices {
            base: set(p),
            above: p
                .get("above")
                .map(|a| (a["threshold"].as_u64().unwrap(), set(a))),
        };
        let usage: Usage = match case.get("fixture").and_then(Value::as_str) {
            Some(f) => fixture_usage(f),
            None => serde_json::from_value(case["usage"].clone()).unwrap(),
        };
        let label = format!(
            "{} at {}: {}",
            case.get("fixture").unwrap_or(&case["usage"]),
            case["prices"],
            case["work"]
        );
        let got = cost(&usage, &prices);
        match case["total"].as_str() {
            None => assert_eq!(got, None, "{label}"),
            Some(total) => {
                let got = got.unwrap_or_else(|| panic!("{label}: no cost"));
                assert_eq!(got.total.dollars(), total, "{label}");
                for (part, money) in [
                    ("cache_read", got.cache_read),
                    ("cache_write", got.cache_write),
                    ("reasoning", got.reasoning),
                ] {
                    if let Some(want) = case.get(part).and_then(Value::as_str) {
                        assert_eq!(money.dollars(), want, "{label}: {part}");
                    }
                }
                if let Some(above) = case.get("above_threshold").and_then(Value::as_bool) {
                    assert_eq!(got.above_threshold, above, "{label}");
                }
            }
        }
    }
}
