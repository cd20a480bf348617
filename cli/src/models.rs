//! `concord models …` and `concord providers limits …`: the model database from the command
//! line, on the embedded database by default (no setup) or the one `[database]` names. Each
//! command that writes is one transaction; bad input is exit 2 with what to fix.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};
use concord_models::edit::{self, ModelEdit};
use concord_models::{Model, Models, Price, ProviderLimits, Status};
use concord_registry::{planned_names, Settings};
use serde_json::{json, Value};

use crate::{EXIT_PROVIDER, EXIT_USAGE};

/// Where the model database is: the configuration (`--config`, else `CONCORD_CONFIG`) and the
/// environment (`CONCORD_DATABASE_URL`, `CONCORD_DATA_DIR`).
#[derive(Args, Clone)]
pub struct Where {
    /// The configuration file whose `[database]` names the model database.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Override a setting: `--set database.url=sqlite:///tmp/c.db`.
    #[arg(long = "set", value_name = "KEY=VALUE", global = true)]
    set: Vec<String>,
}

/// The model database: models, prices, lifecycle, defaults.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  concord models list --provider anthropic\n  concord models show openai/gpt-4o-mini --json\n  concord models set openai/my-finetune --input 0.3 --output 1.2\n  concord models deprecate openai/gpt-4o --replaced-by openai/gpt-5\n  concord models default default openai/gpt-4o-mini\n  concord models import litellm-prices.json"
)]
pub struct ModelsArgs {
    #[command(flatten)]
    at: Where,
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// List the model database's models with status, prices per million tokens, limits and defaults.
    List {
        /// Only this provider's.
        #[arg(long)]
        provider: Option<String>,
        /// One JSON list on stdout.
        #[arg(long)]
        json: bool,
    },
    /// One model, everything about it.
    Show {
        /// `provider/model`.
        id: String,
        /// One JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Import a model table: LiteLLM's `model_prices_and_context_window` format, or concord's
    /// own (a JSON list of models). Rows a person edited are kept unless --overwrite.
    Import {
        /// The file.
        file: PathBuf,
        /// Replace rows a person edited too.
        #[arg(long)]
        overwrite: bool,
    },
    /// Add a model or change one: prices in dollars per million tokens (at most six decimals).
    Set(SetArgs),
    /// Mark a model deprecated: it still works, but every use warns and names its replacement.
    Deprecate {
        /// `provider/model`.
        id: String,
        /// What to use instead.
        #[arg(long)]
        replaced_by: String,
    },
    /// Take a model out of use: calls to it are refused before anything is sent, naming the
    /// replacement (the row stays, inactive, so old records still name it).
    Remove {
        /// `provider/model`.
        id: String,
        /// What to use instead.
        #[arg(long)]
        replaced_by: Option<String>,
    },
    /// Make a model the default of a purpose (`default` is used when a call names no model).
    Default {
        /// The purpose (`default`, or any name a deployment uses).
        purpose: String,
        /// `provider/model`.
        id: String,
    },
}

#[derive(Args)]
#[command(allow_negative_numbers = true)]
struct SetArgs {
    /// `provider/model`.
    id: String,
    /// Input, per million tokens.
    #[arg(long)]
    input: Option<String>,
    /// Output, per million tokens.
    #[arg(long)]
    output: Option<String>,
    /// Cached input read, per million tokens.
    #[arg(long)]
    cache_read: Option<String>,
    /// Cached input written, per million tokens.
    #[arg(long)]
    cache_write: Option<String>,
    /// Cached input written to a one-hour cache, per million tokens, where priced apart.
    #[arg(long = "cache-write-1h")]
    cache_write_1h: Option<String>,
    /// Reasoning, per million tokens, when priced apart from output.
    #[arg(long)]
    reasoning: Option<String>,
    /// The context window, in tokens.
    #[arg(long)]
    context_window: Option<u64>,
    /// The longest answer, in tokens.
    #[arg(long)]
    max_output: Option<u64>,
    /// `active`, `deprecated` or `inactive`.
    #[arg(long)]
    status: Option<String>,
}

/// `concord providers limits NAME`.
#[derive(Args)]
pub struct LimitsArgs {
    #[command(flatten)]
    at: Where,
    /// The provider's registered name.
    name: String,
    /// Requests per minute (0 removes the limit).
    #[arg(long)]
    rpm: Option<u32>,
    /// Tokens per minute (0 removes the limit).
    #[arg(long)]
    tpm: Option<u32>,
    /// Calls in flight at once (0 removes the limit).
    #[arg(long)]
    parallel: Option<u32>,
}

/// Opens the model database the configuration names; `Err` is the exit code and what to say.
pub(crate) async fn open(at: &Where) -> Result<(Settings, Arc<Models>), (u8, String)> {
    open_with_store(at).await.map(|(s, m, _)| (s, m))
}

/// [`open`], and the SQL store beneath (the server's tables live beside the model database's).
pub(crate) async fn open_with_store(
    at: &Where,
) -> Result<(Settings, Arc<Models>, concord_models::SqlStore), (u8, String)> {
    let src = crate::config::sources(at.config.clone(), &at.set).map_err(|e| (EXIT_USAGE, e))?;
    let settings = crate::config::load(&src).map_err(|e| (EXIT_USAGE, e.to_string()))?;
    crate::config::notices(&settings);
    let env = |k: &str| std::env::var(k).ok();
    let (models, store) = settings
        .database
        .open_with_store(&env)
        .await
        .map_err(|e| (code(&e), e.to_string()))?;
    Ok((settings, models, store))
}

fn code(e: &concord_models::Error) -> u8 {
    match e {
        concord_models::Error::Database(_) => EXIT_PROVIDER,
        _ => EXIT_USAGE,
    }
}

fn fail((code, message): (u8, String)) -> u8 {
    eprintln!("error: {message}");
    code
}

/// `provider/model` (a model id may have slashes of its own: `azure/eu/gpt-4o`).
fn split(id: &str) -> Result<(&str, &str), (u8, String)> {
    id.split_once('/')
        .filter(|(p, m)| !p.is_empty() && !m.is_empty())
        .ok_or_else(|| {
            (
                EXIT_USAGE,
                format!("{id:?}: give a model as provider/model, like openai/gpt-4o-mini"),
            )
        })
}

fn model_json(m: &Model, models: &Models, registered: &BTreeSet<String>) -> Value {
    edit::describe(m, models, registered.contains(&m.provider))
}

pub async fn run(args: ModelsArgs) -> u8 {
    let (settings, models) = match open(&args.at).await {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    // The model database lists models; the registry decides which providers exist. A model whose
    // provider this configuration does not register is shown as unavailable, not hidden.
    let registered = planned_names(&settings, &|k| std::env::var(k).ok());
    let writes = !matches!(
        args.command,
        ModelsCommand::List { .. } | ModelsCommand::Show { .. }
    );
    match command(&models, &registered, args.command).await {
        Ok(()) => {
            if writes {
                crate::serve::announce(&settings, "models").await;
            }
            0
        }
        Err(e) => fail(e),
    }
}

async fn command(
    models: &Models,
    registered: &BTreeSet<String>,
    command: ModelsCommand,
) -> Result<(), (u8, String)> {
    let db = |e: concord_models::Error| (code(&e), e.to_string());
    match command {
        ModelsCommand::List { provider, json } => {
            let all: Vec<_> = models
                .all()
                .into_iter()
                .filter(|m| provider.as_deref().is_none_or(|p| m.provider == p))
                .collect();
            if json {
                let list: Vec<Value> = all
                    .iter()
                    .map(|m| model_json(m, models, registered))
                    .collect();
                out!("{}", Value::Array(list));
            } else {
                out!(
                    "{:<46} {:<11} {:<12} {:>9} {:>9} {:>9} {:>9}  DEFAULT",
                    "MODEL",
                    "STATUS",
                    "PROVIDER",
                    "IN $/M",
                    "OUT $/M",
                    "CACHED",
                    "CONTEXT"
                );
                for m in &all {
                    let p = &m.prices.base;
                    let defaults: Vec<String> = models
                        .defaults()
                        .into_iter()
                        .filter(|(_, v)| *v == m.key())
                        .map(|(k, _)| k)
                        .collect();
                    out!(
                        "{:<46} {:<11} {:<12} {:>9} {:>9} {:>9} {:>9}  {}",
                        m.key(),
                        m.status.name(),
                        if registered.contains(&m.provider) {
                            "registered"
                        } else {
                            "unavailable"
                        },
                        p.input.per_million_text(),
                        p.output.per_million_text(),
                        p.cache_read.map_or("-".into(), Price::per_million_text),
                        m.context_window.map_or("-".into(), |c| c.to_string()),
                        defaults.join(",")
                    );
                }
                eprintln!("{} model(s)", all.len());
                if all.iter().any(|m| !registered.contains(&m.provider)) {
                    eprintln!("a provider shown unavailable is not registered here: set its key variable (concord providers list) or add [providers.NAME] to the configuration");
                }
            }
            Ok(())
        }
        ModelsCommand::Show { id, json } => {
            let (p, m) = split(&id)?;
            let model = models.get(p, m).ok_or_else(|| {
                (
                    EXIT_USAGE,
                    format!("{id} is not in the model database (see concord models list)"),
                )
            })?;
            let v = model_json(&model, models, registered);
            if json {
                out!("{v}");
            } else {
                out!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            }
            Ok(())
        }
        ModelsCommand::Import { file, overwrite } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| (EXIT_USAGE, format!("cannot read {}: {e}", file.display())))?;
            let origin = file.display().to_string();
            let parsed = concord_models::import::parse(&text, &origin, &origin).map_err(db)?;
            let r = models.import(&parsed.models, overwrite).await.map_err(db)?;
            for place in &parsed.rounded {
                eprintln!("note: {place}: rounded half to even to a millionth of a dollar per million tokens");
            }
            eprintln!(
                "imported {}: {} added, {} updated, {} unchanged, {} kept (edited; --overwrite replaces them), {} newly deprecated, {} entries skipped",
                file.display(), r.added, r.updated, r.unchanged, r.kept, r.deprecated, parsed.skipped.len()
            );
            Ok(())
        }
        ModelsCommand::Set(a) => {
            let text = |n: Option<u64>| n.map(|n| n.to_string());
            let edit = ModelEdit {
                id: a.id.clone(),
                input: a.input,
                output: a.output,
                cache_read: a.cache_read,
                cache_write: a.cache_write,
                cache_write_1h: a.cache_write_1h,
                reasoning: a.reasoning,
                context_window: text(a.context_window),
                max_output: text(a.max_output),
                status: a.status,
                display_name: None,
            };
            let (_, added) = edit
                .save(models, &known_providers(registered))
                .await
                .map_err(edit_error)?;
            eprintln!("{} {}", if added { "added" } else { "changed" }, a.id);
            Ok(())
        }
        ModelsCommand::Deprecate { id, replaced_by } => {
            lifecycle(models, &id, Status::Deprecated, Some(replaced_by)).await
        }
        ModelsCommand::Remove { id, replaced_by } => {
            lifecycle(models, &id, Status::Inactive, replaced_by).await
        }
        ModelsCommand::Default { purpose, id } => {
            let (p, m) = split(&id)?;
            models.set_default(&purpose, p, m).await.map_err(db)?;
            eprintln!("the default model of {purpose:?} is {id}");
            Ok(())
        }
    }
}

async fn lifecycle(
    models: &Models,
    id: &str,
    status: Status,
    replaced_by: Option<String>,
) -> Result<(), (u8, String)> {
    edit::lifecycle(models, id, status, replaced_by.as_deref())
        .await
        .map_err(edit_error)?;
    eprintln!("{id} is now {}", status.name());
    Ok(())
}

/// The providers a model may be added to: registered here or shipped with concord.
pub(crate) fn known_providers(registered: &BTreeSet<String>) -> edit::KnownProviders<'_> {
    edit::KnownProviders {
        names: Box::new(|p: &str| registered.contains(p) || concord::descriptor::get(p).is_some()),
        listed: "a registered provider (concord providers list) or a shipped one".into(),
    }
}

/// An edit's error as the CLI says it: a field by its flag (`--input: …`).
fn edit_error(e: edit::EditError) -> (u8, String) {
    match e {
        edit::EditError::Field(f) if f.field == "id" => (EXIT_USAGE, f.message),
        edit::EditError::Field(f) => (
            EXIT_USAGE,
            format!("--{}: {}", f.field.replace('_', "-"), f.message),
        ),
        edit::EditError::Store(e) => (code(&e), e.to_string()),
    }
}

/// `concord providers limits NAME [--rpm N] [--tpm N] [--parallel N]`.
pub async fn limits(args: LimitsArgs) -> u8 {
    let (settings, models) = match open(&args.at).await {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    let old = models.limits(&args.name).unwrap_or(ProviderLimits {
        provider: args.name.clone(),
        ..ProviderLimits::default()
    });
    let set = |new: Option<u32>, old: Option<u32>| match new {
        Some(0) => None,
        Some(n) => Some(n),
        None => old,
    };
    let limits = ProviderLimits {
        provider: args.name.clone(),
        requests_per_minute: set(args.rpm, old.requests_per_minute),
        tokens_per_minute: set(args.tpm, old.tokens_per_minute),
        max_parallel: set(args.parallel, old.max_parallel),
    };
    if let Err(e) = models.set_limits(&limits).await {
        return fail((code(&e), e.to_string()));
    }
    out!("{}", json!(limits));
    crate::serve::announce(&settings, "models").await;
    0
}
