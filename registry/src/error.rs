//! The one error type of `concord-registry`.

pub use concord_settings::{Problem, Problems};

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
    #[error("registering {name:?} failed ({kind}): {cause}")]
    RegistrationFailed {
        /// The provider.
        name: String,
        /// What kind of failure: `invalid_config` (a setting that cannot be used),
        /// `missing_runtime_context` (a credential or URL that is not there), `unsupported`
        /// (an API the provider does not speak, a build without the adapter), or what starting a
        /// plugin failed with.
        kind: concord::ErrorKind,
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
    /// A store shared with other processes did not answer (what to do is in the message).
    #[error("the runtimes store is unavailable: {0}")]
    Unavailable(String),
}

impl Error {
    /// The stable name of the error's kind (`invalid_name`, `already_exists`, `not_found`,
    /// `registration_failed`, `shutting_down`, `invalid_config`, `unknown_user`, `refused`,
    /// `unavailable`).
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
            Error::Unavailable(_) => "unavailable",
        }
    }
}
