//! concord-conformance: the cross-provider check suite (see `docs/conformance.md`).
//!
//! Every check has a stable id (`CTR-001`, `TOOL-004`, …), is one function in `checks/`, and
//! runs against every provider under test, observing both what the caller got back and what
//! reached the wire (the mock vendor's request log). A provider can only declare a capability
//! it lacks; it cannot drop a check, and a missing capability is a reasoned skip.
//!
//! Point it at your own provider in a few lines:
//!
//! ```no_run
//! # async fn demo() {
//! use concord_conformance::{Suite, Subject, Protocol};
//! let my_provider = concord::builtin("openai-compatible").unwrap(); // any `impl concord::Provider`
//! let report = Suite::new()
//!     .subject(Subject::new("mine", Protocol::Openai, my_provider))
//!     .run()
//!     .await;
//! report.assert_passed(); // panics with every failure's message
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod broken;
pub mod broken_dispatch;
pub mod broken_gateway;
pub mod broken_models;
pub mod broken_registry;
pub mod broken_server;
pub mod checks;
mod cx;
pub mod gateway;
pub mod outcome;
pub mod report;
pub mod served;
pub mod subject;
pub mod suite;
pub mod under_test;

pub use concord_harness::{probe, Protocol};
pub use cx::MOCK_KEY;
pub use outcome::{CheckResult, Outcome};
pub use report::Report;
pub use subject::{
    default_dispatch, protocol_of, DispatchFactory, Dispatched, Live, MockSetup, Mode, Subject,
};
pub use suite::{Selection, Suite};
