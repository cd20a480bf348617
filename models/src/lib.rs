//! concord-models: what each model is and costs — a model catalogue in a real database
//! (SQLite embedded by default, Postgres for many instances), exact money, and the cost of a
//! call from its normalised usage. It knows no wire format: from `concord` it takes provider
//! names and `Usage` only.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cost;
mod error;
pub mod model;
pub mod money;
pub mod store;

pub use cost::{cost, Cost, PriceSet, Prices};
pub use error::{Error, Result};
pub use model::{CallRecord, Model, ProviderLimits, Status};
pub use money::{Money, MoneyError, Price};
pub use store::{ImportReport, SqlStore, Store};
