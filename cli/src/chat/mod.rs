//! `concord chat`: one prompt, one answer, from any provider — a shipped one configured by its
//! variables and flags (`shipped.rs`), or one a configuration file registers (`registered.rs`);
//! both make the call and print it the same way (`call.rs`).

mod call;
mod registered;
mod shipped;

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::Args;
use concord::descriptor::{self, Api};

/// `--provider` values: the descriptor table, with each row's one-line description.
pub(crate) fn provider_values() -> PossibleValuesParser {
    PossibleValuesParser::new(
        descriptor::DESCRIPTORS
            .iter()
            .map(|d| PossibleValue::new(d.name).help(d.about)),
    )
}

/// `--api` values: every wire format some provider speaks.
pub(crate) fn api_values() -> PossibleValuesParser {
    PossibleValuesParser::new(Api::ALL.iter().map(|a| {
        let speakers: Vec<&str> = descriptor::DESCRIPTORS
            .iter()
            .filter(|d| d.apis.contains(a))
            .map(|d| d.name)
            .collect();
        PossibleValue::new(a.name()).help(format!("spoken by {}", speakers.join(", ")))
    }))
}

/// Send one prompt and print the answer.
///
/// Text is printed as it arrives (with --stream), then a one-line summary goes to stderr.
/// With --json, exactly one JSON object is printed on stdout when the call ends, success or not.
/// Exit codes: 0 success, 1 provider or network error, 2 usage or configuration error.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  concord chat --provider anthropic --model claude-sonnet-4-5 \"Hello\"\n  echo \"Hello\" | concord chat --provider gemini --model gemini-2.5-flash --stream\n  concord chat --provider openai --api responses --model gpt-5-mini \"Hello\"\n  concord chat --provider openai-compatible --model qwen3 --base-url http://127.0.0.1:8080/v1 --json hi"
)]
pub struct ChatArgs {
    /// The prompt; read from stdin when omitted.
    pub(crate) prompt: Option<String>,
    /// Which provider to call: a shipped one, or with --config a name the file registers.
    #[arg(long, long_help = provider_help())]
    pub(crate) provider: String,
    /// A configuration file (see concord.example.toml): --provider then names one of its
    /// [providers.<name>] sections (or a provider discovered from the environment or plugins),
    /// called with its settings; flags given here win over them.
    #[arg(long)]
    pub(crate) config: Option<std::path::PathBuf>,
    /// Which of the provider's APIs to use (default: its first; `responses` for the OpenAI
    /// Responses API on openai, openrouter and openai-compatible).
    #[arg(long, value_parser = api_values())]
    pub(crate) api: Option<String>,
    /// The model name, as the vendor spells it (with --config: default, the section's model).
    #[arg(long)]
    pub(crate) model: Option<String>,
    /// The vendor base URL: with /v1 for OpenAI-style providers (both APIs), the host root for
    /// Anthropic and Gemini, the resource root for Azure (https://{resource}.openai.azure.com),
    /// `…/v1/projects/{p}/locations/{l}` for Vertex. Defaults to the provider's *_BASE_URL
    /// variable, then the vendor's public URL (Vertex: built from project and location).
    #[arg(long)]
    pub(crate) base_url: Option<String>,
    /// The API key (for Vertex, an access token), sent the vendor's way; defaults to the
    /// provider's key variable (OPENAI_API_KEY, ANTHROPIC_API_KEY, …), then its token sources
    /// (Azure: AZURE_OPENAI_AD_TOKEN, Entra ID client credentials; Vertex:
    /// GOOGLE_APPLICATION_CREDENTIALS).
    #[arg(long)]
    pub(crate) api_key: Option<String>,
    /// Azure: an api-version for the classic deployment API (default: the v1 API).
    #[arg(long)]
    pub(crate) api_version: Option<String>,
    /// Vertex: the Google Cloud project (default: GOOGLE_CLOUD_PROJECT, then the service
    /// account's).
    #[arg(long)]
    pub(crate) vertex_project: Option<String>,
    /// Vertex: the location (default: GOOGLE_CLOUD_LOCATION, then `global`).
    #[arg(long)]
    pub(crate) vertex_location: Option<String>,
    /// Who the call runs for (the runtime context's tenant); the enterprise AI gateway
    /// (GENAI_PLATFORM_ENABLED) sends it as the calling user and requires it.
    #[arg(long)]
    pub(crate) tenant: Option<String>,
    /// A system prompt.
    #[arg(long)]
    pub(crate) system: Option<String>,
    /// The most tokens to generate (Anthropic requires one; 4096 is used there when omitted).
    #[arg(long)]
    pub(crate) max_tokens: Option<u32>,
    /// Sampling temperature.
    #[arg(long)]
    pub(crate) temperature: Option<f64>,
    /// Stream the answer as it is generated.
    #[arg(long)]
    pub(crate) stream: bool,
    /// Seconds to wait for the vendor (for streams: for the first byte and between chunks).
    /// Defaults to CONCORD_TIMEOUT_SECS, then 60.
    #[arg(long)]
    pub(crate) timeout_secs: Option<u64>,
    /// Retries after a retryable failure. Defaults to CONCORD_DISPATCH_RETRIES
    /// (`dispatcher.retries`; the old CONCORD_MAX_RETRIES still works, with a notice), then 2.
    #[arg(long)]
    pub(crate) max_retries: Option<u32>,
    /// Print one JSON object on stdout instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `--provider`'s long help: the shipped providers, one per line.
fn provider_help() -> String {
    let mut help = String::from(
        "Which provider to call: a shipped one, or with --config a name the file registers.\n\nShipped providers:",
    );
    for d in descriptor::DESCRIPTORS {
        help.push_str(&format!("\n  {:<18} {}", d.name, d.about));
    }
    help
}

/// Runs `concord chat`.
pub async fn run(args: ChatArgs) -> u8 {
    match args.config.clone() {
        Some(file) => registered::chat(args, file).await,
        None => shipped::chat(args).await,
    }
}
