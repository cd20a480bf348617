//! concord-settings: one configuration from many sources, over typed sections that each crate
//! declares where it owns them.
//!
//! A section is a serde struct with `deny_unknown_fields` and defaults, documented by its doc
//! comments, its variables named in its schema (`#[schemars(extend("x-env" = "…"))]`), and a
//! [`Section::validate`] for the rules serde cannot state. The dispatcher declares
//! `[dispatcher]`, the registry `[providers.<name>]`, `[registry]`, `[runtimes]` and
//! `[telemetry]`; a program lists the sections it reads ([`SectionInfo::of`]) and loads them
//! with [`Config::load`]. This crate knows no section by name: adding one is a file in the
//! crate that owns it.
//!
//! Precedence, lowest first: **defaults < file < environment < overrides**. Loading reports
//! every problem at once — an unknown key or section, a value of the wrong kind, a broken
//! rule — each with its setting, where the value came from (`file:line`, the variable, the
//! override) and what a valid value looks like. Secrets are referenced ([`SecretRef`]), never
//! written in the file. The docs, `.env.example` and the annotated example file are generated
//! from the same declarations ([`docs`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
pub mod docs;
mod error;
mod locate;
mod schema;
mod secret;
mod section;
mod sources;

pub use config::{Config, Resolved};
pub use error::{Problem, Problems};
pub use schema::KeyDoc;
pub use secret::{SecretRef, EXPECTED as SECRET_EXPECTED};
pub use section::{check, check_json, Issue, Issues, Section, SectionInfo};
pub use sources::{EnvLookup, Sources};

/// Re-exported for sections' derives.
pub use schemars;
