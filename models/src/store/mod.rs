//! Where the model database lives: the [`Store`] trait (what a model database must keep), and its one
//! implementation over SQL ([`SqlStore`], `sql.rs`) for SQLite and Postgres alike — the same
//! migrations, the same queries.

mod sql;

use futures_util::future::BoxFuture;

pub use sql::{migrate, SqlStore};

use crate::error::Result;
use crate::model::{CallRecord, Model, ProviderLimits};
use crate::money::Money;

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Rows added.
    pub added: usize,
    /// Rows changed.
    pub updated: usize,
    /// Rows a person edited, kept as they are (no `--overwrite`).
    pub kept: usize,
    /// Rows the same as before.
    pub unchanged: usize,
    /// Rows marked deprecated by the import (newly).
    pub deprecated: usize,
}

/// What a model database must keep. Every write is one transaction: nothing is half-written.
pub trait Store: Send + Sync {
    /// Every model.
    fn models(&self) -> BoxFuture<'_, Result<Vec<Model>>>;
    /// Adds or replaces one model (a person's edit: marked edited).
    fn save_model<'a>(&'a self, model: &'a Model) -> BoxFuture<'a, Result<()>>;
    /// Adds or updates `models` as an import does: a row a person edited is kept unless
    /// `overwrite`.
    fn import<'a>(
        &'a self,
        models: &'a [Model],
        overwrite: bool,
    ) -> BoxFuture<'a, Result<ImportReport>>;
    /// Every `(key, JSON value)` setting.
    fn settings(&self) -> BoxFuture<'_, Result<Vec<(String, String)>>>;
    /// Sets one setting.
    fn set_setting<'a>(&'a self, key: &'a str, value: &'a str) -> BoxFuture<'a, Result<()>>;
    /// Every provider's limits.
    fn limits(&self) -> BoxFuture<'_, Result<Vec<ProviderLimits>>>;
    /// Sets one provider's limits.
    fn set_limits<'a>(&'a self, limits: &'a ProviderLimits) -> BoxFuture<'a, Result<()>>;
    /// Keeps calls' records, all or none (one transaction).
    fn record_all<'a>(&'a self, calls: &'a [CallRecord]) -> BoxFuture<'a, Result<()>>;
    /// The records of calls since `since_ms` (Unix milliseconds), oldest first.
    fn calls(&self, since_ms: i64) -> BoxFuture<'_, Result<Vec<CallRecord>>>;
    /// What `tenant`'s recorded calls since `since_ms` cost, in all.
    fn spent<'a>(&'a self, tenant: &'a str, since_ms: i64) -> BoxFuture<'a, Result<Money>>;
}

/// A database URL without its password (`postgres://user:…@host/db`), for messages.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        let (url, after) = tail.split_at(end);
        match (url.find('@'), url.find(':')) {
            (Some(a), Some(c)) if c < a => {
                out.push_str(&url[..c]);
                out.push_str(":…");
                out.push_str(&url[a..]);
            }
            _ => out.push_str(url),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_appear_in_messages() {
        assert_eq!(
            super::redact("cannot reach postgres://app:s3cret@db:5432/concord (refused)"),
            "cannot reach postgres://app:…@db:5432/concord (refused)"
        );
        assert_eq!(super::redact("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }
}
