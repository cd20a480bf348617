//! The small trait every runtime store meets: this process's [`Runtimes`], or one several
//! processes share (the server keeps them in Redis, `server/src/shared/runtimes.rs`), chosen by
//! configuration. Async, since a shared store answers over the network; its errors say so
//! ([`Error::Unavailable`]).

use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::{Runtimes, UserRuntime};
use crate::Error;

/// Where users' runtimes are kept.
pub trait RuntimeStore: Send + Sync {
    /// The user's runtime, if they have one (reading it counts as use, for the idle TTL).
    fn load<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<Option<Arc<UserRuntime>>, Error>>;

    /// Sets the user's runtime.
    fn save<'a>(&'a self, user: &'a str, runtime: UserRuntime) -> BoxFuture<'a, Result<(), Error>>;

    /// Forgets the user's runtime; whether there was one.
    fn forget<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<bool, Error>>;
}

impl RuntimeStore for Runtimes {
    fn load<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<Option<Arc<UserRuntime>>, Error>> {
        Box::pin(std::future::ready(Ok(self.get(user))))
    }

    fn save<'a>(&'a self, user: &'a str, runtime: UserRuntime) -> BoxFuture<'a, Result<(), Error>> {
        self.set(user, runtime);
        Box::pin(std::future::ready(Ok(())))
    }

    fn forget<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<bool, Error>> {
        let had = self.get(user).is_some();
        self.remove(user);
        Box::pin(std::future::ready(Ok(had)))
    }
}
