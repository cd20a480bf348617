//! Criterion benchmarks for concord live in `benches/`; see `docs/benchmarks.md`.
#![forbid(unsafe_code)]
