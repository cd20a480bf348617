//! concord-registry: the layer between "a provider value" and "a service many users share".
//!
//! - [`settings`]: the sections this crate owns (`[providers.<name>]`, `[registry]`,
//!   `[runtimes]`, `[telemetry]`) with the dispatcher's, loaded by `concord-settings` from a TOML
//!   file, the environment and overrides, every problem named with its setting and source.
//! - [`Registry`]: which providers exist — registered by hand, or discovered from the
//!   configuration, the environment and plugin manifests — with their status, health, events and
//!   a graceful shutdown.
//! - [`Runtimes`]: each user's runtime (provider, model, parameters, credential) kept apart from
//!   every other user's, resolved into the `RuntimeContext` of a call, evicted when idle.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod name;
pub mod providers;
pub mod runtimes;
pub mod settings;

pub use error::{Error, Problem, Problems};
pub use providers::{
    planned_names, Discovery, Event, Handle, HealthCheck, Info, Options, Probe, Registry,
    ShutdownReport, Source, SourceReport, Status,
};
pub use runtimes::{
    Clock, Evicted, ManualClock, RuntimeStore, Runtimes, RuntimesConfig, Session, SystemClock,
    UserRuntime,
};
pub use settings::{load, load_with, Settings, Sources};
