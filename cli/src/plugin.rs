//! `concord plugin-serve`: a built-in provider served over the plugin protocol on stdio, so
//! plugin hosts (and the conformance suite's `--plugin`) can be tried against a provider that
//! is known to conform.

use std::sync::Arc;

use clap::Args;
use concord::{descriptor, Api};

use crate::{EXIT_PROVIDER, EXIT_USAGE};

/// Serve a built-in provider over the plugin protocol (JSON lines on stdin/stdout).
#[derive(Args)]
#[command(
    after_help = "The protocol: docs/plugins.md. Example manifest:\n  {\"command\": [\"concord\", \"plugin-serve\", \"--provider\", \"openai\"]}"
)]
pub struct PluginServeArgs {
    /// Which provider to serve.
    #[arg(long, value_parser = crate::chat::provider_values())]
    provider: String,
    /// Which of its APIs (default: its first).
    #[arg(long, value_parser = crate::chat::api_values())]
    api: Option<String>,
}

pub async fn run(args: PluginServeArgs) -> u8 {
    let d = descriptor::get(&args.provider).expect("a provider from the table");
    let provider = match d.provider(args.api.as_deref().and_then(Api::from_name)) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {}", e.message);
            return EXIT_USAGE;
        }
    };
    let client = match crate::http_client() {
        Ok(c) => c,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_PROVIDER;
        }
    };
    match concord::plugin::serve(
        Arc::new(provider),
        env!("CARGO_PKG_VERSION"),
        client,
        tokio::io::stdin(),
        tokio::io::stdout(),
    )
    .await
    {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: the plugin pipe failed: {e}");
            EXIT_PROVIDER
        }
    }
}
