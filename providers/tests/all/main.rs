//! `concord`'s integration tests, one binary (each test binary is a link on CI's 2 cores).

mod common;

mod absurd;
mod context;
mod credentials;
mod encode;
mod fuzz_smoke;
mod gateway;
mod ids;
mod plugin;
mod reasoning;
mod scenarios;
mod split;
mod synthesis;
