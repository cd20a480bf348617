//! concord-harness: mock LLM vendors that speak the real wire protocols, with fault injection,
//! request observation, and redacted record/replay cassettes.
//!
//! Invariant: this crate knows nothing of `concord`'s types. It speaks bytes on the wire, so it
//! can test any client: concord's adapters, an official SDK, someone else's library.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cassette;
pub mod error;
pub mod mock;
pub mod observe;
pub mod probe;
pub mod redis;
pub mod relay;
pub mod scenario;
mod serve;

pub use error::{Error, Result};
pub use mock::{MockConfig, MockVendor};
pub use observe::{Observations, RecordedRequest};
pub use redis::RedisServer;
pub use scenario::{ErrorCase, Fixtures, Protocol, Scenario, ScenarioFile, StreamEnd};
