//! The harness's one error type.

use std::path::PathBuf;

/// What can go wrong loading fixtures or running a mock vendor.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A fixture file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A fixture file does not match its schema.
    #[error("{path} is not a valid {what}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What it should have been.
        what: &'static str,
        /// What is wrong.
        message: String,
    },
    /// No scenario of that name.
    #[error("no scenario `{name}` for protocol {protocol} (see `concord mock --protocol {protocol} --list`)")]
    UnknownScenario {
        /// The protocol.
        protocol: String,
        /// The name asked for.
        name: String,
    },
    /// The server could not start.
    #[error("cannot start the mock vendor: {0}")]
    Bind(std::io::Error),
}

/// The harness's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
