//! The crate's one error type.

/// What the server's own operations (tenants, startup) refuse or cannot do. Calls answer in
/// their door's error format instead (`doors`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value that cannot be used, named.
    #[error("{0}")]
    Invalid(String),
    /// No such tenant.
    #[error("{0}")]
    NotFound(String),
    /// The name is taken.
    #[error("{0}")]
    Exists(String),
    /// The database failed (its URL's password never appears).
    #[error("database: {0}")]
    Database(String),
    /// The listening socket, or the model database.
    #[error("{0}")]
    Startup(String),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Database(concord_models::store::redact(&e.to_string()))
    }
}

impl From<concord_models::Error> for Error {
    fn from(e: concord_models::Error) -> Self {
        match e {
            concord_models::Error::Database(m) => Error::Database(m),
            other => Error::Invalid(other.to_string()),
        }
    }
}

/// The crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
