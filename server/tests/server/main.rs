//! concord-server's integration tests, one binary (each test binary is a link on CI's 2 cores).

mod admin_api;
mod anthropic_door;
mod browser;
mod budgets;
mod common;
mod docs_fresh;
mod openai_door;
mod runtimes;
mod scale_out;
