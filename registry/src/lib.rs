//! concord-registry: the layer between "a provider value" and "a service many users share".
//! This first part is [`Runtimes`]: each user's runtime (provider, model, parameters,
//! credential) kept apart from every other user's, resolved into the `RuntimeContext` of a call,
//! evicted when idle. The provider registry and layered settings come next.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod runtimes;

pub use runtimes::{Evicted, RuntimeError, Runtimes, RuntimesConfig, Session, UserRuntime};
