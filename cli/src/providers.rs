//! `concord providers list|check`: what the configuration, the environment and the plugins
//! folder register, with source, status, health and capabilities.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use concord_registry::{Discovery, Info};

use crate::{EXIT_PROVIDER, EXIT_USAGE};

/// List or check the providers a configuration registers.
#[derive(Subcommand)]
pub enum ProvidersCommand {
    /// Discover providers (file, environment, plugins) and list them; nothing is sent.
    List(ProvidersArgs),
    /// Discover providers and run one health check of each (a one-token call); exit 1 if any
    /// is unhealthy.
    Check(ProvidersArgs),
    /// Set a provider's limits in the model database (requests and tokens per minute, calls
    /// in flight); a running registry following the model database applies them without a restart.
    Limits(crate::models::LimitsArgs),
}

/// Options of `concord providers`.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  concord providers list --config concord.example.toml\n  OPENAI_API_KEY=… concord providers check --config concord.toml --json"
)]
pub struct ProvidersArgs {
    /// The configuration file (default: CONCORD_CONFIG; without either, the environment only).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override a setting: `--set registry.discover_env=false`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// One JSON object on stdout.
    #[arg(long)]
    json: bool,
}

pub async fn run(command: ProvidersCommand) -> u8 {
    let (args, check) = match command {
        ProvidersCommand::List(a) => (a, false),
        ProvidersCommand::Check(a) => (a, true),
        ProvidersCommand::Limits(a) => return crate::models::limits(a).await,
    };
    let opened = crate::config::sources(args.config, &args.set)
        .map_err(|e| (EXIT_USAGE, e))
        .and_then(|src| crate::config::open(&src));
    let (settings, registry) = match opened {
        Ok(o) => o,
        Err((code, message)) => {
            eprintln!("error: {message}");
            return code;
        }
    };
    let found = registry.discover_all(&settings).await;
    let infos = if check {
        registry.check_health().await
    } else {
        registry.snapshot()
    };
    if args.json {
        out!("{}", json(&infos, &found));
    } else {
        print_table(&infos, &found);
    }
    registry.shutdown().await;
    let unhealthy = infos.iter().any(|i| i.status.name() == "error");
    if check && (unhealthy || infos.is_empty()) {
        EXIT_PROVIDER
    } else {
        0
    }
}

fn caps(i: &Info) -> String {
    serde_json::to_value(i.capabilities)
        .ok()
        .and_then(|v| {
            v.as_object().map(|o| {
                o.iter()
                    .filter(|(_, v)| v.as_bool() == Some(true))
                    .map(|(k, _)| k.clone())
                    .collect::<Vec<_>>()
                    .join(",")
            })
        })
        .unwrap_or_default()
}

fn health(i: &Info) -> String {
    match &i.last_health {
        None => "-".into(),
        Some(h) if h.healthy => format!("ok {} ms", h.latency.as_millis()),
        Some(h) => format!("failed: {}", h.detail),
    }
}

fn print_table(infos: &[Info], found: &Discovery) {
    out!(
        "{:<20} {:<12} {:<13} {:<24} {:<30} ORIGIN",
        "NAME",
        "SOURCE",
        "STATUS",
        "MODEL",
        "HEALTH"
    );
    for i in infos {
        out!(
            "{:<20} {:<12} {:<13} {:<24} {:<30} {}",
            i.name,
            i.source.name(),
            i.status.name(),
            i.model.as_deref().unwrap_or("-"),
            health(i),
            i.origin
        );
        out!("{:<20} capabilities: {}", "", caps(i));
    }
    for report in &found.sources {
        for (name, why) in &report.skipped {
            eprintln!("skipped ({}): {name}: {why}", report.source.name());
        }
    }
    eprintln!(
        "{} provider(s): {}",
        infos.len(),
        found
            .sources
            .iter()
            .map(|r| format!("{} from {}", r.added.len(), r.source.name()))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

fn json(infos: &[Info], found: &Discovery) -> serde_json::Value {
    let providers: Vec<_> = infos
        .iter()
        .map(|i| {
            serde_json::json!({
                "name": i.name,
                "source": i.source.name(),
                "origin": i.origin,
                "status": i.status.name(),
                "error": match &i.status { concord_registry::Status::Error(e) => Some(e), _ => None },
                "model": i.model,
                "capabilities": i.capabilities,
                "health": i.last_health.as_ref().map(|h| serde_json::json!({
                    "healthy": h.healthy, "detail": h.detail, "latency_ms": h.latency.as_millis() as u64,
                })),
            })
        })
        .collect();
    let skipped: Vec<_> = found
        .sources
        .iter()
        .flat_map(|r| {
            r.skipped.iter().map(
                |(n, why)| serde_json::json!({ "source": r.source.name(), "name": n, "why": why }),
            )
        })
        .collect();
    serde_json::json!({ "providers": providers, "skipped": skipped })
}
