//! The `concord` binary end to end, one test binary (each is a link on CI's 2 cores).

#[path = "../common/mod.rs"]
mod common;

mod chat;
mod cloud;
mod mock;
mod models;
mod paths;
mod registry;
mod serve;
