//! concord: one stateless contract over many LLM vendors.
//!
//! Every call takes a [`Request`] and a call-scoped [`RuntimeContext`] (model, credential, base
//! URL, settings, HTTP client, tenant). Providers keep no state, fail fast with
//! `missing_runtime_context` when the context lacks something, and normalise each vendor's
//! answers to the same [`Response`], [`StreamEvent`]s and [`Error`] kinds.
//!
//! A provider is a wire format (bodies), an endpoint (addresses) and an auth step (credentials)
//! composed in an [`HttpProvider`]; the shipped ones are rows of [`descriptor::DESCRIPTORS`].
//!
//! ```no_run
//! # async fn demo() -> concord::Result<()> {
//! use concord::{Provider, Request, RuntimeContext};
//! let client = reqwest::Client::new(); // one pool, shared by every call
//! let ctx = RuntimeContext::new()
//!     .model("claude-sonnet-4-5")
//!     .credential("…")
//!     .base_url("https://api.anthropic.com")
//!     .client(client);
//! let mut request = Request::user("Hello");
//! request.params.max_output_tokens = Some(1024);
//! let reply = concord::builtin("anthropic")?.generate(&request, &ctx).await?;
//! println!("{}", reply.text);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod capabilities;
pub mod context;
#[cfg(feature = "oauth")]
pub mod credentials;
pub mod descriptor;
pub mod env;
pub mod error;
pub mod event;
mod http;
pub mod ids;
pub mod kit;
#[cfg(feature = "plugin")]
pub mod plugin;
pub mod provider;
pub mod request;
pub mod response;
#[cfg(any(feature = "openai", feature = "anthropic"))]
pub mod serve;
pub mod wire;

#[cfg(feature = "anthropic")]
pub mod anthropic;
#[cfg(feature = "gemini")]
pub mod gemini;
#[cfg(feature = "openai")]
pub mod openai;
#[cfg(feature = "responses")]
pub mod responses;

/// The HTTP client crate of the contract: [`RuntimeContext::client`] is a `reqwest::Client` of
/// this version (0.13). Build clients with `concord::reqwest` so the pool you pass is the one
/// the providers use, whatever version your own crate depends on.
pub use reqwest;

pub use capabilities::Capabilities;
pub use context::{CallCredential, Credential, CredentialKind, ResolvedCall, RuntimeContext};
pub use descriptor::{builtin, Api, Descriptor};
pub use error::{Error, ErrorKind, Result};
pub use event::{assemble, Assembler, EventStream, StreamEvent};
pub use http::HttpProvider;
pub use provider::Provider;
pub use request::{
    ContentPart, ImageSource, Message, Parameters, ReasoningBlock, ReasoningOptions, Request,
    ResponseFormat, Tool, ToolChoice,
};
pub use response::{FinishReason, Response, ToolCall, Usage};
