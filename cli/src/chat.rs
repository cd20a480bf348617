//! `concord chat`: one prompt, one answer, from any provider.

use std::io::{IsTerminal, Read, Write};
use std::time::{Duration, Instant};

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::Args;
use concord::descriptor::{self, Api, Connection};
use concord::{
    Error, ErrorKind, Message, Provider, Request, Response, RuntimeContext, StreamEvent,
};
use concord_dispatch::{DispatchConfig, Dispatcher, RetryPolicy};
use concord_registry::Sources;
use futures_util::StreamExt;

use crate::output::{error_json, ChatJson};
use crate::{EXIT_PROVIDER, EXIT_USAGE};

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

/// A usage or configuration problem found before anything is sent: exit 2, with the kind that
/// names it (a missing key or URL, a build without the adapter, a bad prompt or number).
pub(crate) fn usage_error(args: &ChatArgs, kind: ErrorKind, provider: &str, message: String) -> u8 {
    let err = Error::new(kind, provider, message);
    report_error(args.json, &err);
    EXIT_USAGE
}

pub(crate) fn report_error(json: bool, err: &Error) {
    if json {
        println!("{}", error_json(err));
    } else {
        eprintln!("error: {err}");
    }
}

/// The flags over what the variables gave: each flag sets its field of the connection.
fn apply_flags(args: &ChatArgs, c: &mut Connection) {
    if let Some(api) = args.api.as_deref().and_then(Api::from_name) {
        c.api = Some(api);
    }
    if let Some(key) = &args.api_key {
        c.key = Some(concord::Credential::new(key.clone()));
    }
    let set = |field: &mut Option<String>, flag: &Option<String>| {
        if flag.is_some() {
            field.clone_from(flag);
        }
    };
    set(&mut c.base_url, &args.base_url);
    set(&mut c.api_version, &args.api_version);
    set(&mut c.project, &args.vertex_project);
    set(&mut c.location, &args.vertex_location);
    if let Some(secs) = args.timeout_secs {
        c.timeout = Some(Duration::from_secs(secs));
    }
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

pub async fn run(args: ChatArgs) -> u8 {
    if let Some(file) = args.config.clone() {
        return crate::registered::chat(args, file).await;
    }
    let Some(d) = descriptor::get(&args.provider) else {
        let known: Vec<&str> = descriptor::names().collect();
        let message = format!(
            "no shipped provider is called `{}` (known: {}); a provider named in a config file needs --config FILE",
            args.provider,
            known.join(", ")
        );
        return usage_error(&args, ErrorKind::Unsupported, &args.provider, message);
    };
    let name = d.name;
    let Some(model) = args.model.clone() else {
        return usage_error(
            &args,
            ErrorKind::MissingRuntimeContext,
            name,
            "--model is required (with --config, a section's `model` can supply it)".into(),
        );
    };
    let prompt = match read_prompt(args.prompt.clone()) {
        Ok(p) => p,
        Err(message) => return usage_error(&args, ErrorKind::InvalidRequest, name, message),
    };
    // The dispatcher's settings as everywhere else (`[dispatcher]` keys from the environment),
    // `--max-retries` their override.
    let retries = args
        .max_retries
        .map(|n| ("dispatcher.retries".to_owned(), n.to_string()));
    let settings = match concord_registry::load(&Sources::from_env(None).set(retries)) {
        Ok(s) => s,
        Err(e) => return usage_error(&args, ErrorKind::InvalidConfig, name, e.to_string()),
    };
    crate::config::notices(&settings);

    let request = request_of(&args, prompt, d.required_max_tokens);
    let client = match crate::http_client() {
        Ok(c) => c,
        Err(message) => {
            report_error(args.json, &Error::new(ErrorKind::Transport, name, message));
            return EXIT_PROVIDER;
        }
    };
    // The row's variables (and the AI gateway's) fill the connection; the flags win over them.
    let mut connection = match Connection::from_env(d) {
        Ok(c) => c,
        Err(e) => return usage_error(&args, e.kind, name, e.message),
    };
    apply_flags(&args, &mut connection);
    if connection.gateway.is_some() && args.tenant.is_none() {
        return usage_error(
            &args,
            ErrorKind::MissingRuntimeContext,
            name,
            "the AI gateway (GENAI_PLATFORM_ENABLED) needs the calling user: pass --tenant".into(),
        );
    }
    let (provider, ctx) = match d.connect(&connection, client) {
        Ok(built) => built,
        Err(e) if e.kind == ErrorKind::MissingRuntimeContext => {
            let message = format!(
                "{} (or pass it as a flag: --api-key, --base-url)",
                e.message
            );
            return usage_error(&args, e.kind, name, message);
        }
        Err(e) => return usage_error(&args, e.kind, name, e.message),
    };
    let mut ctx = ctx.model(model.clone());
    if let Some(t) = &args.tenant {
        ctx = ctx.tenant(t.clone());
    }
    // The dispatcher with only its retry layer on: a one-shot command has nothing to queue or
    // take out of rotation.
    let config = DispatchConfig {
        retry: RetryPolicy::default().with_max_retries(settings.dispatcher.retry.max_retries),
        breaker: None,
        ..DispatchConfig::default()
    };
    let provider = match Dispatcher::new(provider, config) {
        Ok(d) => d,
        Err(e) => return usage_error(&args, ErrorKind::InvalidConfig, name, e.to_string()),
    };
    call(&args, name, &model, &provider, &request, &ctx).await
}

/// The request built from the flags (system prompt, prompt, parameters).
pub(crate) fn request_of(
    args: &ChatArgs,
    prompt: String,
    required_max_tokens: Option<u32>,
) -> Request {
    let mut request = Request::default();
    if let Some(system) = &args.system {
        request.messages.push(Message::system(system.clone()));
    }
    request.messages.push(Message::user(prompt));
    request.params.temperature = args.temperature;
    request.params.max_output_tokens = args.max_tokens.or(required_max_tokens);
    request
}

/// Makes the call, prints the answer (or the error) and returns the exit code.
pub(crate) async fn call(
    args: &ChatArgs,
    name: &str,
    model: &str,
    provider: &dyn Provider,
    request: &Request,
    ctx: &RuntimeContext,
) -> u8 {
    let started = Instant::now();
    let result = if args.stream {
        stream(provider, request, ctx, !args.json).await
    } else {
        provider.generate(request, ctx).await.inspect(|r| {
            if !args.json {
                print!("{}", r.text);
            }
        })
    };
    match result {
        Ok(response) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string(&ChatJson::new(name, model, &response))
                        .expect("serialisable")
                );
            } else {
                println!();
                summary(name, model, &response, started.elapsed());
            }
            0
        }
        Err(err) => {
            report_error(args.json, &err);
            match err.kind {
                ErrorKind::MissingRuntimeContext
                | ErrorKind::InvalidConfig
                | ErrorKind::Unsupported => EXIT_USAGE,
                _ => EXIT_PROVIDER,
            }
        }
    }
}

pub(crate) fn read_prompt(arg: Option<String>) -> Result<String, String> {
    let prompt = match arg {
        Some(p) => p,
        None if std::io::stdin().is_terminal() => {
            return Err("no prompt: pass it as an argument or pipe it on stdin".into())
        }
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("cannot read the prompt from stdin: {e}"))?;
            text
        }
    };
    if prompt.trim().is_empty() {
        return Err("the prompt is empty".into());
    }
    Ok(prompt)
}

/// Streams, printing text as it arrives when `print` is set, and assembles the response.
async fn stream(
    provider: &dyn Provider,
    request: &Request,
    ctx: &RuntimeContext,
    print: bool,
) -> concord::Result<Response> {
    let mut events = provider.stream(request, ctx).await?;
    let mut assembler = concord::Assembler::default();
    let mut stdout = std::io::stdout();
    while let Some(event) = events.next().await {
        let event = event?;
        if print {
            if let StreamEvent::TextDelta { text } = &event {
                // A closed stdout (a pipe to `head`) is not worth failing the call for.
                let _ = stdout.write_all(text.as_bytes());
                let _ = stdout.flush();
            }
        }
        assembler.push(provider.name(), event)?;
    }
    assembler.finish(provider.name())
}

fn summary(provider: &str, requested_model: &str, r: &Response, elapsed: Duration) {
    for call in &r.tool_calls {
        eprintln!("tool call {} {}({})", call.id, call.name, call.arguments);
    }
    let model = if r.model.is_empty() {
        requested_model
    } else {
        &r.model
    };
    let n = |v: Option<u64>| v.map_or_else(|| "?".to_owned(), |v| v.to_string());
    eprintln!(
        "{provider} {model} · finish {} ({}) · {} in / {} out tokens · {:.1} s",
        r.finish_reason.as_str(),
        r.raw_finish_reason.as_deref().unwrap_or("-"),
        n(r.usage.input_tokens),
        n(r.usage.output_tokens),
        elapsed.as_secs_f64()
    );
}
