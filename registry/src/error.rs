//! The one error type of `concord-registry`.

use std::fmt;

/// One problem of a configuration: the setting, where its value came from, what is wrong and what
/// a valid value looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The setting (`providers.azure.base_url`).
    pub setting: String,
    /// Where the value came from: `concord.toml:12`, `environment variable CONCORD_…`,
    /// `override`, or the file for a missing key.
    pub source: String,
    /// What is wrong (never the value of a secret).
    pub message: String,
    /// What a valid value looks like.
    pub expected: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.setting, self.source, self.message)?;
        if !self.expected.is_empty() {
            write!(f, "; expected {}", self.expected)?;
        }
        Ok(())
    }
}

/// Every problem a configuration has, found in one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "{n} problem{} in the configuration:",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.0 {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

/// What the registry, the runtimes store and the settings loader refuse.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// A provider name that cannot be used.
    #[error("invalid provider name {name:?}: {why}")]
    InvalidName {
        /// The name.
        name: String,
        /// Why.
        why: &'static str,
    },
    /// A provider of that name is registered already.
    #[error("a provider called {0:?} is registered already; unregister it first")]
    AlreadyExists(String),
    /// No provider of that name.
    #[error("no provider called {name:?} is registered (registered: {known})")]
    NotFound {
        /// The name asked for.
        name: String,
        /// The names there are, comma-separated.
        known: String,
    },
    /// Building or initialising the provider failed.
    #[error("registering {name:?} failed: {cause}")]
    RegistrationFailed {
        /// The provider.
        name: String,
        /// Why, naming what to fix.
        cause: String,
    },
    /// The registry is shutting down and takes nothing new.
    #[error("the registry is shutting down")]
    ShuttingDown,
    /// The configuration has problems (all of them).
    #[error("{0}")]
    Config(Problems),
    /// The user has no runtime (and none was asked to be made from the default profile).
    #[error("user {0:?} has no runtime; set one, or configure a default profile and ask for it")]
    UnknownUser(String),
    /// An update rejected the runtime it would produce.
    #[error("the update of user {user:?} was refused: {why}")]
    Refused {
        /// Whose.
        user: String,
        /// Why.
        why: String,
    },
}

impl Error {
    /// The stable name of the error's kind (`invalid_name`, `already_exists`, `not_found`,
    /// `registration_failed`, `shutting_down`, `invalid_config`, `unknown_user`, `refused`).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidName { .. } => "invalid_name",
            Error::AlreadyExists(_) => "already_exists",
            Error::NotFound { .. } => "not_found",
            Error::RegistrationFailed { .. } => "registration_failed",
            Error::ShuttingDown => "shutting_down",
            Error::Config(_) => "invalid_config",
            Error::UnknownUser(_) => "unknown_user",
            Error::Refused { .. } => "refused",
        }
    }
}
