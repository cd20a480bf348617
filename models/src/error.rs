//! The one error type of `concord-models`.

/// What the model database refuses or cannot do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The database cannot be reached or answered with an error (the URL's password never
    /// appears here).
    #[error("the model database failed: {0}")]
    Database(String),
    /// No such model or provider in the model database.
    #[error("{0}")]
    NotFound(String),
    /// A value that cannot be used (a negative or over-precise price, a malformed import file
    /// with its place), named.
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// The stable name of its kind: `database`, `not_found`, `invalid`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Database(_) => "database",
            Error::NotFound(_) => "not_found",
            Error::Invalid(_) => "invalid",
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Database(crate::store::redact(&e.to_string()))
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
