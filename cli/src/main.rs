//! `concord`: chat with any provider from the command line, or run a mock vendor.
//!
//! With `cargo xtask`, this binary is what prints to the terminal; the library crates only
//! log through `tracing`. The environment is read here (the flags' defaults), by the settings
//! loader (`concord-settings`, for the keys a variable also sets) and by
//! `Connection::from_env` (a provider's own variables), never by an adapter.
#![forbid(unsafe_code)]

/// `println!` that does not panic when stdout is closed (a pipe to `head`): output nobody reads
/// any more is not an error worth a crash.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `print!`, likewise.
macro_rules! out_part {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod chat;
mod config;
mod mock;
mod models;
mod output;
mod plugin;
mod providers;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// One contract over many LLM vendors, and mock vendors to test against.
#[derive(Parser)]
#[command(name = "concord", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send one prompt to a provider and print the answer.
    Chat(Box<chat::ChatArgs>),
    /// Run a mock vendor on loopback that speaks a real wire protocol.
    Mock(mock::MockArgs),
    /// Serve a built-in provider over the plugin protocol on stdin/stdout.
    PluginServe(plugin::PluginServeArgs),
    /// List or health-check the providers a configuration file, the environment and the
    /// plugins folder register.
    #[command(subcommand)]
    Providers(providers::ProvidersCommand),
    /// Check a configuration file: every problem at once, with its setting and source.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// The model database: models, prices, lifecycle and defaults (an embedded database by
    /// default; `[database]` names another).
    Models(models::ModelsArgs),
    /// Serve OpenAI-compatible endpoints over every registered provider: tenants' keys, the
    /// model database's routing and costs, health (`--mock-providers`: a demo with no keys).
    Serve(serve::ServeArgs),
    /// The server's tenants: create (prints the key once), list, disable, enable, rotate-key.
    Tenants(serve::TenantsArgs),
}

/// Exit codes: 0 success, 1 provider or network error, 2 usage or configuration error.
pub(crate) const EXIT_PROVIDER: u8 = 1;
pub(crate) const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Kept to the end of `main`, after the runtime is gone: dropping it sends the last spans.
    let _traces = init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_PROVIDER);
        }
    };
    let code = runtime.block_on(async {
        match cli.command {
            Command::Chat(args) => chat::run(*args).await,
            Command::Mock(args) => mock::run(args).await,
            Command::PluginServe(args) => plugin::run(args).await,
            Command::Providers(command) => providers::run(command).await,
            Command::Config(command) => config::run(command),
            Command::Models(args) => models::run(args).await,
            Command::Serve(args) => serve::run(args).await,
            Command::Tenants(args) => serve::tenants(args).await,
        }
    });
    ExitCode::from(code)
}

/// The one HTTP client a command's calls share; `Err` says why it cannot be built.
pub(crate) fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// Logs go to stderr, filtered by `CONCORD_LOG` (default `warn`); with the `otlp` feature and
/// an OTLP endpoint in the environment, the server's call spans go there too.
fn init_logging() -> Option<otlp::Guard> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let filter = concord::env::CONCORD_LOG
        .get_or_default()
        .unwrap_or_else(|| "warn".into());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_filter(filter);
    let (traces, guard) = match otlp::layer() {
        Some((layer, guard)) => (Some(layer), Some(guard)),
        None => (None, None),
    };
    tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .init();
    guard
}

/// OTLP export of the server's call spans (`--features otlp`).
#[cfg(feature = "otlp")]
mod otlp {
    use tracing_subscriber::Layer;

    /// Flushes and stops the exporter when dropped.
    pub struct Guard(opentelemetry_sdk::trace::SdkTracerProvider);

    impl Drop for Guard {
        fn drop(&mut self) {
            if let Err(e) = self.0.shutdown() {
                eprintln!("warning: the last spans were not exported: {e}");
            }
        }
    }

    /// The layer that exports the `concord_server` call spans, when an endpoint is set.
    pub fn layer<S>() -> Option<(Box<dyn Layer<S> + Send + Sync>, Guard)>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a> + Send + Sync,
    {
        use opentelemetry::trace::TracerProvider as _;
        use opentelemetry_otlp::{Protocol, WithExportConfig as _};
        let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty());
        if !set("OTEL_EXPORTER_OTLP_ENDPOINT") && !set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            return None;
        }
        let exporter = match opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpJson)
            .build()
        {
            Ok(e) => e,
            Err(e) => {
                eprintln!("warning: no OTLP export: {e}");
                return None;
            }
        };
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                opentelemetry_sdk::Resource::builder()
                    .with_service_name("concord")
                    .build(),
            )
            .build();
        let tracer = provider.tracer("concord");
        let only_calls = tracing_subscriber::filter::Targets::new()
            .with_target("concord_server", tracing::Level::INFO);
        let layer = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(only_calls);
        Some((Box::new(layer), Guard(provider)))
    }
}

/// Without the `otlp` feature an endpoint in the environment is said to be unused.
#[cfg(not(feature = "otlp"))]
mod otlp {
    /// Nothing to flush.
    pub struct Guard;

    pub fn layer() -> Option<(tracing_subscriber::layer::Identity, Guard)> {
        if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
            || std::env::var_os("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some()
        {
            eprintln!("warning: OTEL_EXPORTER_OTLP_ENDPOINT is set, but this concord was built without OTLP export (cargo install --path cli --features otlp)");
        }
        None
    }
}
