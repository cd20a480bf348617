//! `concord serve` and `concord tenants …`: the server over the registry, the model database
//! and the tenants the configuration names. `--mock-providers` starts the mock vendors in this
//! process and registers them, so a newcomer sees it answer with no keys and no setup.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};
use concord_harness::{MockVendor, Protocol};
use concord_models::Recorder;
use concord_registry::{Options, Registry, Settings};
use concord_server::tenants::{Budget, Period};
use concord_server::{Server, ServerSection, Tenants};

use crate::{EXIT_PROVIDER, EXIT_USAGE};

/// `concord serve`.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  concord serve --mock-providers            # mock vendors, a demo tenant, no keys needed\n  concord serve --config concord.toml\n  concord serve --listen 0.0.0.0:8080      # behind a TLS-terminating proxy\n\nClients use it as an OpenAI server: base URL http://ADDR/v1, a tenant's key as the API key\n(concord tenants create NAME prints one)."
)]
pub struct ServeArgs {
    /// The configuration file (else `CONCORD_CONFIG`): providers, `[server]`, `[database]`.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override a setting: `--set server.body_limit=1048576`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// The address to listen on (over `[server] listen`).
    #[arg(long)]
    listen: Option<String>,
    /// Start the mock vendors (OpenAI, Anthropic, Gemini) in this process, register them as
    /// the only providers, and make a `demo` tenant whose key is printed.
    #[arg(long)]
    mock_providers: bool,
}

/// `concord tenants …`.
#[derive(Args)]
pub struct TenantsArgs {
    #[command(flatten)]
    at: crate::models::Where,
    #[command(subcommand)]
    command: TenantsCommand,
}

#[derive(Subcommand)]
enum TenantsCommand {
    /// Make a tenant and print its key (the only time it is shown).
    Create {
        /// Its name: a-z, 0-9, - and _.
        name: String,
        /// The model its calls get when they name none (`provider/model`).
        #[arg(long)]
        default_model: Option<String>,
        /// What it may spend per period, in dollars (exact: `25`, `12.50`).
        #[arg(long, value_name = "USD")]
        budget: Option<String>,
        /// The budget's period: `day`, `month` (UTC calendar) or `total`.
        #[arg(long, default_value = "month")]
        period: String,
        /// Requests it may make a minute (a minute's worth may come at once).
        #[arg(long, value_name = "N")]
        rpm: Option<u64>,
        /// Tokens (input and output, as the vendor counts them) it may spend a minute.
        #[arg(long, value_name = "N")]
        tpm: Option<u64>,
    },
    /// Set a tenant's requests and tokens per minute; one left out is unlimited.
    Limits {
        /// The tenant.
        name: String,
        /// Requests a minute.
        #[arg(long, value_name = "N")]
        rpm: Option<u64>,
        /// Tokens a minute.
        #[arg(long, value_name = "N")]
        tpm: Option<u64>,
    },
    /// Set a tenant's budget (`--usd`), or remove it (`--none`).
    Budget {
        /// The tenant.
        name: String,
        /// What it may spend per period, in dollars.
        #[arg(
            long,
            value_name = "USD",
            conflicts_with = "none",
            required_unless_present = "none"
        )]
        usd: Option<String>,
        /// The period: `day`, `month` or `total`.
        #[arg(long, default_value = "month")]
        period: String,
        /// No budget.
        #[arg(long)]
        none: bool,
    },
    /// Every tenant, its state and its keys' last characters.
    List {
        /// One JSON list on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Refuse every key of a tenant (403) until enabled again.
    Disable {
        /// The tenant.
        name: String,
    },
    /// Admit a disabled tenant's keys again.
    Enable {
        /// The tenant.
        name: String,
    },
    /// Replace a tenant's keys with a new one, printed once; the old ones stop working.
    RotateKey {
        /// The tenant.
        name: String,
    },
}

/// `--budget USD --period P` as a budget; `Err` says what to fix.
fn parse_budget(usd: &str, period: &str) -> Result<Budget, String> {
    let limit = concord_models::Money::from_dollars(usd).map_err(|e| format!("--budget: {e}"))?;
    let period = Period::from_name(period)
        .ok_or_else(|| format!("--period {period:?}: day, month or total"))?;
    Ok(Budget { limit, period })
}

fn fail(code: u8, message: impl std::fmt::Display) -> u8 {
    eprintln!("error: {message}");
    code
}

fn code(e: &concord_server::Error) -> u8 {
    match e {
        concord_server::Error::Database(_) | concord_server::Error::Startup(_) => EXIT_PROVIDER,
        _ => EXIT_USAGE,
    }
}

/// The mock vendors of `--mock-providers`: a registered name, its key and base-URL variables.
const MOCKS: [(Protocol, &str, &str); 3] = [
    (Protocol::Openai, "OPENAI_API_KEY", "OPENAI_BASE_URL"),
    (
        Protocol::Anthropic,
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
    ),
    (Protocol::Gemini, "GEMINI_API_KEY", "GEMINI_BASE_URL"),
];

pub async fn run(args: ServeArgs) -> u8 {
    let src = match crate::config::sources(args.config.clone(), &args.set) {
        Ok(s) => s,
        Err(e) => return fail(EXIT_USAGE, e),
    };
    let settings = match crate::config::load(&src) {
        Ok(s) => s,
        Err(e) => return fail(EXIT_USAGE, e),
    };
    crate::config::notices(&settings);
    let mut server_settings = settings.config.get::<ServerSection>();
    if let Some(listen) = args.listen {
        server_settings.listen = listen;
    }
    let addr: std::net::SocketAddr = match server_settings.listen.parse() {
        Ok(a) => a,
        Err(_) => {
            return fail(
                EXIT_USAGE,
                format!(
                    "--listen {:?}: give host:port with an IP address, like 127.0.0.1:8080",
                    server_settings.listen
                ),
            )
        }
    };
    let client = match crate::http_client() {
        Ok(c) => c,
        Err(m) => return fail(EXIT_PROVIDER, m),
    };
    let demo_client = client.clone();
    let env = |k: &str| std::env::var(k).ok();
    let (models, store) = match settings.database.open_with_store(&env).await {
        Ok(o) => o,
        Err(e) => return fail(EXIT_PROVIDER, e),
    };
    let tenants = match Tenants::open(store.pool().clone()).await {
        Ok(t) => t,
        Err(e) => return fail(code(&e), e),
    };
    // The mocks live as long as the server: dropping them stops them.
    let mut mocks = Vec::new();
    let registry = if args.mock_providers {
        let mut vars = HashMap::new();
        for (protocol, key, base) in MOCKS {
            let mock = match MockVendor::start(protocol, "auto").await {
                Ok(m) => m,
                Err(e) => return fail(EXIT_PROVIDER, format!("a mock vendor did not start: {e}")),
            };
            vars.insert(key.to_owned(), "sk-concord-mock-vendor".to_owned());
            vars.insert(base.to_owned(), mock.base_url());
            mocks.push(mock);
        }
        // Only the mocks: the environment's real keys are not used in demo mode.
        let mut options = Options::from_settings(&settings, client);
        options.env = Arc::new(move |k: &str| vars.get(k).cloned());
        let registry = Registry::new(options);
        registry.discover_all(&Settings::defaults()).await;
        registry
    } else {
        let registry = Registry::new(Options::from_settings(&settings, client));
        let found = registry.discover_all(&settings).await;
        for source in &found.sources {
            for (name, why) in &source.skipped {
                eprintln!("note: provider {name} not registered: {why}");
            }
        }
        registry
    };
    if registry.names().is_empty() {
        return fail(
            EXIT_USAGE,
            "no provider is registered: add [providers.NAME] to the configuration, set a provider's key variable (OPENAI_API_KEY, …), or try --mock-providers",
        );
    }
    registry.follow_models(models.clone(), std::time::Duration::from_secs(1));
    let demo_key = if args.mock_providers {
        let made = match tenants.get("demo") {
            Some(_) => tenants.rotate_key("demo").await,
            None => tenants.create("demo", None, None).await,
        };
        match made {
            Ok(k) => Some(k),
            Err(e) => return fail(code(&e), e),
        }
    } else {
        None
    };
    // The admin key: the configured reference (CONCORD_ADMIN_KEY by default); demo mode makes
    // one when none is set, printed below like the demo tenant's.
    let (admin, made_admin_key) = match server_settings
        .admin_key
        .as_ref()
        .map(|r| r.resolve(&|k: &str| std::env::var(k).ok()))
    {
        Some(Ok(key)) => (concord_server::admin::AdminKey::new(&key), None),
        Some(Err(why)) if !args.mock_providers => {
            eprintln!("note: the admin pages are off: {why} (docs/admin.md)");
            (None, None)
        }
        None if !args.mock_providers => (None, None),
        _ => match concord_server::tenants::new_admin_key() {
            Ok(key) => (concord_server::admin::AdminKey::new(&key), Some(key)),
            Err(e) => return fail(EXIT_PROVIDER, e),
        },
    };
    // Several instances share tenants' rate limits and hear of each other's edits through
    // Redis, when `[redis] url` is set; a Redis that is down is no reason not to start.
    let redis_settings = settings.config.get::<concord_server::RedisSection>();
    let shared = match &redis_settings.url {
        None => None,
        Some(_) => {
            let password = match redis_password(&redis_settings) {
                Ok(p) => p,
                Err(why) => return fail(EXIT_USAGE, why),
            };
            match concord_server::shared::Shared::connect(&redis_settings, password).await {
                Ok(s) => {
                    if let Some(why) = s.state().why {
                        eprintln!("note: Redis does not answer yet ({why}): each tenant's limits are this instance's alone until it does");
                    }
                    Some(s)
                }
                Err(e) => return fail(EXIT_USAGE, e),
            }
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => return fail(EXIT_PROVIDER, format!("cannot listen on {addr}: {e}")),
    };
    let bound = listener.local_addr().map_or(addr, |a| a);
    let recorder = Recorder::new(models.store().clone());
    let models_store = models.store().clone();
    let providers = registry.names().join(", ");
    let server = Arc::new(Server {
        registry,
        models,
        recorder,
        tenants,
        budgets: Arc::new(concord_server::budget::Budgets::new(models_store.clone())),
        settings: server_settings,
        admin,
        users: concord_server::users::Users::new(settings.runtimes.config()),
        shared,
    });
    let _joined = server.shared.as_ref().map(|s| s.join(&server));
    out!("concord serve: listening on http://{bound} (providers: {providers})");
    if let Some(key) = &demo_key {
        // A first run of the demo has something to show on the admin pages' spend page: a few
        // real calls through this server to the mocks, recorded and priced like any other.
        let seeded = server.models.store().calls(0).await.map(|c| c.is_empty());
        if matches!(seeded, Ok(true)) {
            tokio::spawn(demo_calls(
                demo_client,
                format!("http://{bound}"),
                key.clone(),
            ));
        }
    }
    if let Some(key) = demo_key {
        out!("A demo tenant's key (shown once): {key}");
        out!("Try:");
        out!(
            "  curl http://{bound}/v1/chat/completions -H 'Authorization: Bearer {key}' -H 'content-type: application/json' -d '{{\"model\": \"gpt-4o-mini\", \"messages\": [{{\"role\": \"user\", \"content\": \"Hello\"}}]}}'"
        );
        out!("or point any OpenAI client at base URL http://{bound}/v1 with that key.");
    }
    if let Some(key) = made_admin_key {
        out!("The admin pages: http://{bound}/admin (admin key, made for this run: {key})");
    } else if server.admin.is_some() {
        out!("The admin pages: http://{bound}/admin (sign in with the admin key)");
    }
    match server.serve(listener, shutdown_signal()).await {
        Ok(()) => {
            eprintln!("concord serve: stopped");
            drop(mocks);
            0
        }
        Err(e) => fail(EXIT_PROVIDER, e),
    }
}

/// The demo's first calls: each mock provider's default model and one more, some streamed.
async fn demo_calls(client: reqwest::Client, base: String, key: String) {
    const MODELS: [(&str, bool); 6] = [
        ("openai/gpt-4o-mini", false),
        ("openai/gpt-4o-mini", true),
        ("openai/gpt-4o", false),
        ("anthropic/claude-haiku-4-5", false),
        ("anthropic/claude-haiku-4-5", true),
        ("gemini/gemini-2.5-flash", false),
    ];
    let mut made = 0;
    for (model, stream) in MODELS {
        let body = serde_json::json!({
            "model": model,
            "stream": stream,
            "messages": [{"role": "user", "content": "A first call of the concord demo."}],
        });
        let sent = client
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await;
        // A streamed answer is read to its end, so its record has the usage.
        if let Ok(r) = sent {
            if r.status().is_success() && r.bytes().await.is_ok() {
                made += 1;
            }
        }
    }
    eprintln!("made {made} demo calls: see them under Spend on the admin pages");
}

/// SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    eprintln!("concord serve: stopping (calls in flight finish first)");
}

pub async fn tenants(args: TenantsArgs) -> u8 {
    let (settings, models, store) = match crate::models::open_with_store(&args.at).await {
        Ok(o) => o,
        Err((c, m)) => return fail(c, m),
    };
    drop(models);
    let tenants = match Tenants::open(store.pool().clone()).await {
        Ok(t) => t,
        Err(e) => return fail(code(&e), e),
    };
    let writes = !matches!(args.command, TenantsCommand::List { .. });
    let done = match args.command {
        TenantsCommand::Create {
            name,
            default_model,
            budget,
            period,
            rpm,
            tpm,
        } => {
            let budget = match budget
                .as_deref()
                .map(|usd| parse_budget(usd, &period))
                .transpose()
            {
                Ok(b) => b,
                Err(m) => return fail(EXIT_USAGE, m),
            };
            if rpm == Some(0) || tpm == Some(0) {
                return fail(
                    EXIT_USAGE,
                    "--rpm and --tpm are at least 1 (leave one out for no limit)",
                );
            }
            match tenants
                .create(&name, default_model.as_deref(), budget)
                .await
            {
                Err(e) => Err(e),
                Ok(key) => {
                    // The key is shown whatever happens next: it exists now.
                    out!("{key}");
                    eprintln!("made tenant {name}; its key is above, shown this once");
                    if rpm.or(tpm).is_some() {
                        if let Err(e) = tenants.set_rate_limits(&name, rpm, tpm).await {
                            return fail(
                                code(&e),
                                format!("{name}'s rate limits were not set ({e}): set them with `concord tenants limits {name}`"),
                            );
                        }
                    }
                    Ok(())
                }
            }
        }
        TenantsCommand::Limits { name, rpm, tpm } => {
            tenants.set_rate_limits(&name, rpm, tpm).await.map(|()| {
                let show = |n: Option<u64>| n.map_or("unlimited".to_owned(), |n| n.to_string());
                eprintln!(
                    "{name}: {} requests and {} tokens a minute",
                    show(rpm),
                    show(tpm)
                );
            })
        }
        TenantsCommand::Budget {
            name,
            usd,
            period,
            none: _,
        } => {
            let budget = match usd
                .as_deref()
                .map(|usd| parse_budget(usd, &period))
                .transpose()
            {
                Ok(b) => b,
                Err(m) => return fail(EXIT_USAGE, m),
            };
            tenants
                .set_budget(&name, budget)
                .await
                .map(|()| match budget {
                    Some(b) => eprintln!(
                        "{name} may spend ${} per {}",
                        b.limit.dollars(),
                        b.period.name()
                    ),
                    None => eprintln!("{name} has no budget"),
                })
        }
        TenantsCommand::RotateKey { name } => tenants.rotate_key(&name).await.map(|key| {
            out!("{key}");
            eprintln!("{name}'s old keys no longer work; the new one is above, shown this once");
        }),
        TenantsCommand::Disable { name } => tenants
            .set_disabled(&name, true)
            .await
            .map(|()| eprintln!("{name} is disabled: its keys are refused with 403")),
        TenantsCommand::Enable { name } => tenants
            .set_disabled(&name, false)
            .await
            .map(|()| eprintln!("{name} is enabled")),
        TenantsCommand::List { json } => {
            let all = tenants.list();
            if json {
                let list: Vec<serde_json::Value> = all
                    .iter()
                    .map(|t| {
                        serde_json::json!({
                            "name": t.name,
                            "disabled": t.disabled,
                            "default_model": t.default_model,
                            "created": concord_models::date((t.created_at_ms / 1000) as u64),
                            "keys": t.key_hints.iter().map(|h| format!("…{h}")).collect::<Vec<_>>(),
                            "budget": t.budget.map(|b| serde_json::json!({
                                "usd": b.limit.dollars(), "period": b.period.name()})),
                            "rpm": t.rpm,
                            "tpm": t.tpm,
                        })
                    })
                    .collect();
                out!("{}", serde_json::Value::Array(list));
            } else {
                out!(
                    "{:<24} {:<9} {:<12} {:<30} KEYS",
                    "NAME",
                    "STATE",
                    "CREATED",
                    "DEFAULT MODEL"
                );
                for t in &all {
                    out!(
                        "{:<24} {:<9} {:<12} {:<30} {}",
                        t.name,
                        if t.disabled { "disabled" } else { "enabled" },
                        concord_models::date((t.created_at_ms / 1000) as u64),
                        t.default_model.as_deref().unwrap_or("-"),
                        t.key_hints
                            .iter()
                            .map(|h| format!("…{h}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    );
                }
            }
            Ok(())
        }
    };
    match done {
        Ok(()) => {
            if writes {
                announce(&settings, "tenants").await;
            }
            0
        }
        Err(e) => fail(code(&e), e),
    }
}

/// `[redis] password`, resolved; `Err` says what is wrong with it.
fn redis_password(redis: &concord_server::RedisSection) -> Result<Option<String>, String> {
    redis
        .password
        .as_ref()
        .map(|r| r.resolve(&|k: &str| std::env::var(k).ok()))
        .transpose()
        .map_err(|why| format!("[redis] password: {why}"))
}

/// After an edit made here: with `[redis] url`, the running instances are told to re-read
/// `what` (`models`, `tenants`) now; said on stderr either way.
pub(crate) async fn announce(settings: &Settings, what: &str) {
    let redis = settings.config.get::<concord_server::RedisSection>();
    if redis.url.is_none() {
        return;
    }
    let later =
        "the running instances see this edit at their next refresh ([database] refresh_secs)";
    let told = match redis_password(&redis) {
        Ok(password) => concord_server::shared::announce(&redis, password, what)
            .await
            .map_err(|e| e.to_string()),
        Err(why) => Err(why),
    };
    match told {
        Ok(n) => eprintln!("told {n} running instance(s) through Redis"),
        Err(why) => eprintln!("note: Redis did not take the news ({why}): {later}"),
    }
}
