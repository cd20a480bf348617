//! concord-registry's integration tests, one binary (each test binary is a link on CI's 2 cores).

mod concurrency;
mod discovery;
mod models;
