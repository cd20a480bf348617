//! A short, stable run of the fuzz targets' bodies (`fuzz/bodies.rs`), so CI exercises them
//! without nightly or cargo-fuzz: every fixture stream and body as a seed, then mutations of
//! them and random bytes (proptest). The long runs are `cargo fuzz run <target>`
//! (`docs/fuzzing.md`).

#[path = "../../../fuzz/bodies.rs"]
mod bodies;

use concord_harness::{Fixtures, Protocol};
use proptest::prelude::*;

fn seeds() -> Vec<(u8, Vec<u8>, Vec<u8>)> {
    let fixtures = Fixtures::default();
    let mut out = Vec::new();
    for (which, protocol) in Protocol::ALL.into_iter().enumerate() {
        for name in fixtures.list(protocol).unwrap() {
            if name.starts_with("error_") {
                continue;
            }
            let sc = fixtures.scenario(protocol, &name).unwrap();
            out.push((
                which as u8,
                sc.stream_bytes.unwrap_or_default(),
                sc.generate_body.unwrap_or_default(),
            ));
        }
    }
    out
}

#[test]
fn every_fixture_passes_every_body() {
    let seeds = seeds();
    assert!(seeds.len() > 80, "{} seeds", seeds.len());
    for (which, stream, body) in &seeds {
        for chunking in [0u8, 2, 16] {
            let mut data = vec![chunking];
            data.extend_from_slice(stream);
            bodies::stream(*which, &data);
        }
        bodies::body(*which, body);
        bodies::sse(stream);
    }
    for value in [
        "1e20",
        "-1",
        "NaN",
        "inf",
        "1e300",
        "Wed, 21 Oct 2015 07:28:00 GMT",
        "20",
        "34.4s",
        "1e20s",
        "",
    ] {
        bodies::retry_signals(value.as_bytes());
    }
}

/// Every input a fuzzer ever crashed on, kept in `fuzz/regressions/<target>/` (the target's
/// name says which body and protocol), still passes.
#[test]
fn past_fuzz_findings_stay_fixed() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions");
    let mut ran = 0;
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        let target = dir.file_name().unwrap().to_string_lossy().into_owned();
        let which = ["openai", "responses", "anthropic", "gemini"]
            .iter()
            .position(|p| target.ends_with(p))
            .unwrap_or(0) as u8;
        for file in std::fs::read_dir(&dir).unwrap() {
            let data = std::fs::read(file.unwrap().path()).unwrap();
            match target.split('_').next().unwrap() {
                "stream" => bodies::stream(which, &data),
                "body" => bodies::body(which, &data),
                "retry" => bodies::retry_signals(&data),
                _ => bodies::sse(&data),
            }
            ran += 1;
        }
    }
    assert!(ran >= 2, "only {ran} regression inputs");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Fixture streams with bytes flipped, cut and inserted.
    #[test]
    fn mutated_streams(pick in any::<prop::sample::Index>(), at in any::<prop::sample::Index>(),
                       byte in any::<u8>(), cut in any::<bool>(), chunking in any::<u8>()) {
        let seeds = seeds();
        let (which, stream, body) = &seeds[pick.index(seeds.len())];
        let mut data = stream.clone();
        if !data.is_empty() {
            let i = at.index(data.len());
            if cut { data.truncate(i) } else { data[i] = byte }
        }
        let mut fed = vec![chunking];
        fed.extend_from_slice(&data);
        bodies::stream(*which, &fed);
        bodies::sse(&data);
        let mut body = body.clone();
        if !body.is_empty() {
            let i = at.index(body.len());
            body[i] = byte;
        }
        bodies::body(*which, &body);
    }

    /// Random bytes.
    #[test]
    fn random_bytes(which in 0u8..4, data in prop::collection::vec(any::<u8>(), 0..512)) {
        bodies::stream(which, &data);
        bodies::body(which, &data);
        bodies::retry_signals(&data);
        bodies::sse(&data);
    }
}
