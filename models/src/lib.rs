//! concord-models: what each model is and costs — models, prices and limits in a real database
//! (SQLite embedded by default, Postgres for many instances), exact money, and the cost of a
//! call from its normalised usage. It knows no wire format: from `concord` it takes provider
//! names and `Usage` only.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cost;
pub mod date;
pub mod edit;
mod error;
pub mod import;
pub mod limits;
pub mod meter;
pub mod model;
mod models;
pub mod money;
mod notify;
pub mod settings;
pub mod store;

pub use cost::{cost, Cost, PriceSet, Prices};
pub use date::{date, today};
pub use error::{Error, Result};
pub use meter::{Metered, OnWarning, Recorder};
pub use model::{CallRecord, Model, ProviderLimits, Status};
pub use models::{Models, Verdict};
pub use money::{Money, MoneyError, Price};
pub use notify::Notify;
pub use settings::DatabaseSection;
pub use store::{migrate, ImportReport, SqlStore, Store};
