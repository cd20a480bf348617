//! `concord mock`: a mock vendor (or a cassette replay server) from the command line.

use clap::Args;
use concord_harness::{Fixtures, MockConfig, MockVendor, Protocol};

use crate::{EXIT_PROVIDER, EXIT_USAGE};

/// `--protocol` values: every wire protocol the harness speaks.
fn protocol_values() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(Protocol::ALL.iter().map(|p| {
        clap::builder::PossibleValue::new(p.name()).help(match p {
            Protocol::Openai => "OpenAI Chat Completions (base URL ends in /v1)",
            Protocol::OpenaiResponses => "OpenAI Responses (base URL ends in /v1)",
            Protocol::Anthropic => "Anthropic Messages",
            Protocol::Gemini => "Google Gemini generateContent",
        })
    }))
}

/// Run a mock vendor on 127.0.0.1 until interrupted.
///
/// The first line of stdout is the base URL, in the form `concord chat --base-url` takes.
/// Point any client at it: an official SDK, curl, another language, or the live conformance
/// run (`cargo xtask conformance --live --provider openai-compatible --base-url URL`).
///
/// By default (`--scenario auto`) it answers each request the way the vendor would answer
/// that request, as the model it names: text; a forced tool choice (any, required or named)
/// always calls a declared tool, with arguments made from its JSON Schema; left to choose, it
/// calls `get_weather`, `get_time` or `get_time_now` when those are declared (several when
/// parallel calls are allowed); the answer to tool results; an instance of a requested JSON
/// Schema, a JSON object in JSON mode; reasoning only when asked; OpenAI stream usage only with
/// `include_usage`; a prompt over 200,000 tokens (bytes / 4) gets the vendor's context-length
/// error; and a system prompt saying "reply with only the word W" is obeyed when it sits where
/// the vendor reads system prompts. The model `missing-model` is a 404, as any unknown model
/// at a vendor; `GET …/models` lists models in the vendor's shape, behind its key check. See
/// docs/mock.md.
///
/// A request header `x-mock-scenario: NAME` picks another scenario for that one request. Routes match on the
/// operation at the end of the path, so a client configured for another endpoint of the same
/// wire format (Azure's `/openai/v1/…`, say) works against it too.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  concord mock --protocol openai --key sk-local-test\n  concord mock --protocol anthropic --scenario tool_call\n  concord mock --protocol openai --list\n  concord mock --protocol gemini --cassette fixtures/cassettes/gemini-text.json"
)]
pub struct MockArgs {
    /// The wire protocol to speak.
    #[arg(long, value_parser = protocol_values())]
    protocol: String,
    /// The scenario to serve (see --list); `auto` picks per request.
    #[arg(long, default_value = "auto")]
    scenario: String,
    /// Accept only this key (by default any non-empty key is accepted). With it, a call with
    /// another key gets the vendor's 401, as at a real vendor.
    #[arg(long)]
    key: Option<String>,
    /// A model listed at `GET /v1/models` (repeatable; OpenAI protocols), where OpenAI-compatible
    /// clients look for the model a server serves. Default: concord-mock-model.
    #[arg(long = "model")]
    models: Vec<String>,
    /// The port to listen on (default: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Require the key in this header instead of the protocol's own (`api-key` to stand in for
    /// Azure, `authorization` for a bearer token as Vertex takes it).
    #[arg(long)]
    key_header: Option<String>,
    /// Keep the most recent N requests in memory (0, the default: keep none). Nothing reads
    /// them from the command line; an embedding test sets its own. Left at 0, the mock serves
    /// any number of requests in flat memory.
    #[arg(long, default_value_t = 0, value_name = "N")]
    request_log: usize,
    /// Answer from a recorded cassette instead of a scenario.
    #[arg(long)]
    cassette: Option<std::path::PathBuf>,
    /// Print the scenario names, one per line, and exit.
    #[arg(long)]
    list: bool,
}

pub async fn run(args: MockArgs) -> u8 {
    // clap only lets known names through.
    let protocol = Protocol::from_name(&args.protocol).expect("a known protocol");
    if args.list {
        return match Fixtures::default().list(protocol) {
            Ok(names) => {
                out!("{}", concord_harness::mock::AUTO);
                for n in names {
                    out!("{n}");
                }
                0
            }
            Err(e) => {
                eprintln!("error: {e}");
                EXIT_USAGE
            }
        };
    }
    if let Some(path) = &args.cassette {
        return replay(protocol, path, args.port).await;
    }
    let mut config = MockConfig::new(protocol)
        .scenario(args.scenario.clone())
        .port(args.port)
        .request_log(args.request_log);
    if let Some(header) = &args.key_header {
        config = config.key_header(header.clone());
    }
    if let Some(key) = &args.key {
        config = config.expect_key(key.clone());
    }
    if !args.models.is_empty() {
        config = config.models(args.models.clone());
    }
    let mock = match MockVendor::start_with(config).await {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    out!("{}", mock.base_url());
    eprintln!(
        "mock {protocol} vendor serving scenario `{}`; Ctrl-C to stop",
        args.scenario
    );
    wait_for_interrupt().await
}

async fn replay(protocol: Protocol, path: &std::path::Path, port: u16) -> u8 {
    let server = match concord_harness::cassette::ReplayServer::start(path, port).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    out!("{}", server.base_url(protocol));
    eprintln!(
        "replaying {} ({} exchanges); Ctrl-C to stop",
        path.display(),
        server.len()
    );
    wait_for_interrupt().await
}

async fn wait_for_interrupt() -> u8 {
    match tokio::signal::ctrl_c().await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: cannot wait for Ctrl-C: {e}");
            EXIT_PROVIDER
        }
    }
}
