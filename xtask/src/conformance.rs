//! `cargo xtask conformance`: run the suite, print the matrix, write reports.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use concord::plugin::{Manifest, PluginProvider};
use concord_conformance::{Live, Mode, Outcome, Protocol, Selection, Subject, Suite};

/// Run the conformance suite against concord's providers.
///
/// By default against mock vendors (no keys, loopback only). With --live, the live checks
/// against the real vendors, keys from OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, …
/// (a provider without its key is skipped, naming the variable, not failed); each live check
/// states its approximate token cost and --budget caps the run.
///
/// Any server claiming OpenAI compatibility: `--live --provider openai-compatible --base-url
/// http://HOST:PORT/v1` (add `--api responses` for the Responses API). Its key comes from
/// OPENAI_COMPATIBLE_API_KEY (a placeholder is sent when unset), its model from --model, else
/// CONCORD_LIVE_OPENAI_COMPATIBLE_MODEL, else the first model the server lists at /models.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  cargo xtask conformance --provider anthropic --check 'TOOL-*'\n  cargo xtask conformance --tag live\n  cargo xtask conformance --live --provider openai --budget 2000\n  cargo xtask conformance --live --provider openai-compatible --base-url http://127.0.0.1:8000/v1\n  cargo xtask conformance --gateway http://127.0.0.1:4000 --gateway-key sk-… --upstream openai --gateway-model-prefix mock-openai/"
)]
pub struct Args {
    /// Mock vendors from the harness (the default).
    #[arg(long, group = "mode")]
    mock_providers: bool,
    /// The real vendors.
    #[arg(long, group = "mode")]
    live: bool,
    /// The real vendors, writing redacted cassettes to fixtures/cassettes/.
    #[arg(long, group = "mode")]
    record: bool,
    /// Answer from the cassettes in fixtures/cassettes/.
    #[arg(long, group = "mode")]
    replay: bool,
    /// Only these providers (repeatable): openai, anthropic, gemini. With --gateway, the
    /// vendors behind the gateway (`--upstream` says the same).
    #[arg(long = "provider", alias = "upstream")]
    providers: Vec<String>,
    /// Only checks matching these patterns (repeatable): 'TOOL-*', CTR-001.
    #[arg(long = "check")]
    checks: Vec<String>,
    /// Only these families (repeatable): CTR, TOOL, RSN, JSON, MM, USE, ERR, SL, SEC.
    #[arg(long = "family")]
    families: Vec<String>,
    /// Only checks with these tags (repeatable): `live` (they can run against a live server),
    /// `mock` (they need the mock vendor: they observe the wire or inject faults).
    #[arg(long = "tag", value_parser = ["live", "mock"])]
    tags: Vec<String>,
    /// The API of the providers (chat, responses, messages, generate-content): selects
    /// `openai-compatible-responses` for `--provider openai-compatible --api responses`.
    #[arg(long)]
    api: Option<String>,
    /// With --live: the base URL of the server to test (one --provider, or a --plugin that
    /// calls it), instead of its variable (OPENAI_COMPATIBLE_BASE_URL, …).
    #[arg(long, requires = "live")]
    base_url: Option<String>,
    /// With --live: the model to call, instead of its variable.
    #[arg(long, requires = "live")]
    model: Option<String>,
    /// With --live or --record: the most tokens the run may spend, by the checks' estimates;
    /// checks past it are skipped, saying so.
    #[arg(long)]
    budget: Option<u64>,
    /// Where --record writes and --replay reads cassettes.
    #[arg(long, default_value = "fixtures/cassettes")]
    cassette_dir: PathBuf,
    /// Write report.json, junit.xml and report.md here.
    #[arg(long)]
    report_dir: Option<PathBuf>,
    /// Run every subject behind `concord serve` (in-process, embedded database): concord's
    /// client → the server's door → the provider → its mock vendor. `openai`, `anthropic`
    /// (repeatable, or comma-separated); `all` for both doors. Mock mode only.
    #[arg(long, value_delimiter = ',', value_parser = ["openai", "anthropic", "all"], conflicts_with_all = ["live", "record", "replay"])]
    through_server: Vec<String>,
    /// Judge a running gateway (LiteLLM, Portkey, `concord serve`…) at this origin
    /// (`http://127.0.0.1:4000`): the suite starts a relay on --relay-port for the gateway's
    /// upstream (the mock vendors, each check its own), prints the configuration to give the
    /// gateway, waits for it, and calls it through --door. Checks that administer a server
    /// or need each call's own upstream key skip, saying why. docs/gateways.md.
    #[arg(long, conflicts_with_all = ["live", "record", "replay", "through_server", "plugin"])]
    gateway: Option<String>,
    /// With --gateway: the key the gateway takes from its callers (else CONCORD_GATEWAY_KEY).
    #[arg(long, requires = "gateway")]
    gateway_key: Option<String>,
    /// With --gateway: the door the suite calls it by.
    #[arg(long, requires = "gateway", value_parser = ["openai", "anthropic"], default_value = "openai")]
    door: String,
    /// With --gateway: what the gateway's model names are made of, `{prefix}{model}`
    /// (LiteLLM with a `mock/*` route: `mock/`).
    #[arg(long, requires = "gateway", default_value = "")]
    gateway_model_prefix: String,
    /// With --gateway: the loopback port of the relay the gateway's upstream points at.
    #[arg(long, requires = "gateway", default_value_t = 4010)]
    relay_port: u16,
    /// Regenerate docs/conformance.md from this run (mock mode, full selection) and one through
    /// `concord serve` (--through-server all).
    #[arg(long)]
    write_docs: bool,
    /// With --write-docs: fail with a diff when docs/conformance.md differs, instead of writing
    /// it (CI's check that the catalogue page is fresh).
    #[arg(long, requires = "write_docs")]
    check_docs: bool,
    /// Run the suite against a plugin (a provider in any language, docs/plugins.md) instead of
    /// concord's providers: the path of its manifest.json.
    #[arg(long, requires = "protocol")]
    plugin: Option<PathBuf>,
    /// The wire protocol the plugin calls (openai, openai-responses, anthropic, gemini): the
    /// mock vendor it is pointed at.
    #[arg(long, requires = "plugin")]
    protocol: Option<String>,
    /// A file listing the checks the plugin is known to fail, one `ID: reason` per line: the
    /// run fails on any other failure, and on a listed check that passes (so the list stays
    /// true).
    #[arg(long, requires = "plugin")]
    known_failures: Option<PathBuf>,
}

impl Args {
    /// The full mock-mode run, as CI does it.
    pub fn mock_all() -> Self {
        Self {
            mock_providers: true,
            live: false,
            record: false,
            replay: false,
            providers: vec![],
            checks: vec![],
            families: vec![],
            tags: vec![],
            api: None,
            base_url: None,
            model: None,
            budget: None,
            through_server: vec![],
            gateway: None,
            gateway_key: None,
            door: "openai".into(),
            gateway_model_prefix: String::new(),
            relay_port: 4010,
            cassette_dir: "fixtures/cassettes".into(),
            report_dir: None,
            write_docs: false,
            check_docs: false,
            plugin: None,
            protocol: None,
            known_failures: None,
        }
    }
}

impl Args {
    /// The full mock-mode run, failing when docs/conformance.md is stale.
    pub fn mock_all_checking_docs() -> Self {
        Self {
            write_docs: true,
            check_docs: true,
            ..Self::mock_all()
        }
    }

    /// A gateway run (`--gateway`) for one provider.
    pub fn gateway(
        origin: &str,
        key: &str,
        door: &str,
        prefix: &str,
        relay_port: u16,
        provider: &str,
    ) -> Self {
        Self {
            providers: vec![provider.into()],
            gateway: Some(origin.into()),
            gateway_key: Some(key.into()),
            door: door.into(),
            gateway_model_prefix: prefix.into(),
            relay_port,
            ..Self::mock_all()
        }
    }

    /// The full mock-mode run against a plugin.
    pub fn plugin(manifest: PathBuf, protocol: &str, known_failures: Option<PathBuf>) -> Self {
        Self {
            plugin: Some(manifest),
            protocol: Some(protocol.into()),
            known_failures,
            ..Self::mock_all()
        }
    }
}

/// The subjects behind the server's doors `doors` names (none: as they are).
fn through_server(subjects: Vec<Subject>, doors: &[String]) -> Vec<Subject> {
    use concord_conformance::served::{concord_server_factory, Door};
    let doors: Vec<Door> = if doors.iter().any(|d| d == "all") {
        Door::ALL.to_vec()
    } else {
        doors.iter().filter_map(|d| Door::parse(d)).collect()
    };
    if doors.is_empty() {
        return subjects;
    }
    let factory = concord_server_factory();
    subjects
        .into_iter()
        .flat_map(|s| {
            let factory = factory.clone();
            doors
                .iter()
                .map(move |d| s.clone().through_server(*d, factory.clone()))
        })
        .collect()
}

/// Starts the relay, says how to configure the gateway, waits until it answers, and puts the
/// subjects behind it.
fn through_gateway(
    args: &Args,
    origin: &str,
    subjects: Vec<Subject>,
    runtime: &tokio::runtime::Runtime,
) -> Result<(concord_harness::relay::Relay, Vec<Subject>)> {
    use concord_conformance::gateway::gateway_factory;
    use concord_conformance::served::Door;
    let door = Door::parse(&args.door).expect("clap checked it");
    let key = match &args.gateway_key {
        Some(k) => k.clone(),
        None => std::env::var("CONCORD_GATEWAY_KEY").context(
            "--gateway needs the key the gateway takes: --gateway-key KEY or CONCORD_GATEWAY_KEY",
        )?,
    };
    let relay = runtime
        .block_on(concord_harness::relay::Relay::start(args.relay_port))
        .with_context(|| {
            format!(
                "cannot listen on 127.0.0.1:{} for the relay; pick another with --relay-port",
                args.relay_port
            )
        })?;
    let upstream = relay.url();
    println!(
        "Point the gateway's upstream at the relay, one route per vendor format, with this key:\n  \
         OpenAI (Chat Completions, Responses): {upstream}/v1\n  \
         Anthropic: {upstream}\n  Gemini: {upstream}\n  key: {}\n\
         and pass model names through as `{}MODEL`. LiteLLM, for example:\n  \
         model_list:\n    - model_name: \"{}*\"\n      litellm_params: {{model: \"openai/*\", api_base: \"{upstream}/v1\", api_key: \"{}\"}}\n",
        concord_conformance::MOCK_KEY,
        args.gateway_model_prefix,
        args.gateway_model_prefix,
        concord_conformance::MOCK_KEY,
    );
    let client = reqwest::Client::new();
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if runtime.block_on(client.get(origin).send()).is_ok() {
            break;
        }
        if Instant::now() > deadline {
            bail!("the gateway at {origin} did not answer within 60 s; is it running?");
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let factory = gateway_factory(origin, &key, &args.gateway_model_prefix);
    let subjects = subjects
        .into_iter()
        .map(|s| s.through_gateway(door, factory.clone()))
        .collect();
    Ok((relay, subjects))
}

pub fn run(args: Args) -> Result<()> {
    run_report(args).map(|_| ())
}

/// Runs as `run` does and gives back the report of a run that passed.
fn run_report(args: Args) -> Result<concord_conformance::Report> {
    let cassettes = crate::root().join(&args.cassette_dir);
    let mode = if args.live {
        Mode::Live
    } else if args.record {
        Mode::Record(cassettes)
    } else if args.replay {
        Mode::Replay(cassettes)
    } else {
        Mode::Mock
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let subjects = match (&args.plugin, &args.protocol) {
        (Some(manifest), Some(protocol)) => {
            let protocol = Protocol::from_name(protocol).with_context(|| {
                format!("unknown protocol `{protocol}`; known: openai, openai-responses, anthropic, gemini")
            })?;
            let manifest = Manifest::load(manifest).map_err(|e| anyhow::anyhow!(e.message))?;
            let plugin = runtime
                .block_on(PluginProvider::start(manifest))
                .map_err(|e| anyhow::anyhow!("the plugin did not start: {}", e.message))?;
            let name = plugin.handshake().name.clone();
            println!(
                "plugin `{name}` {} (plugin protocol {}), calling the {} wire protocol",
                plugin.handshake().version,
                plugin.handshake().protocol,
                protocol.name()
            );
            vec![Subject::new(name, protocol, plugin)]
        }
        _ => Subject::all_builtin(),
    };
    let providers = provider_names(&args)?;
    let known: Vec<String> = subjects.iter().map(|s| s.name.clone()).collect();
    if let Some(unknown) = providers.iter().find(|p| !known.contains(p)) {
        bail!("unknown provider `{unknown}`; known: {}", known.join(", "));
    }
    // `--provider openai` selects every door in front of it.
    let subjects: Vec<Subject> = subjects
        .into_iter()
        .filter(|s| providers.is_empty() || providers.contains(&s.name))
        .collect();
    let subjects = through_server(subjects, &args.through_server);
    // Kept until the run ends: the gateway's upstream.
    let mut _relay = None;
    let subjects = match &args.gateway {
        Some(origin) => {
            let (relay, subjects) = through_gateway(&args, origin, subjects, &runtime)?;
            _relay = Some(relay);
            subjects
        }
        None => subjects,
    };
    let providers: Vec<String> = if providers.is_empty() {
        providers
    } else {
        subjects.iter().map(|s| s.name.clone()).collect()
    };
    let subjects = match &args.base_url {
        Some(url) => {
            let plugin = args
                .plugin
                .as_ref()
                .and_then(|_| subjects.into_iter().next());
            vec![one_server(&args, &providers, url, plugin, &runtime)?]
        }
        None => subjects,
    };
    let selection = Selection {
        providers,
        checks: args.checks.clone(),
        families: args.families.clone(),
        // A live run has only the live checks to run; the rest would all be skips.
        tags: if args.tags.is_empty() && mode != Mode::Mock {
            vec!["live".into()]
        } else {
            args.tags.clone()
        },
    };
    let full = args.providers.is_empty()
        && args.checks.is_empty()
        && args.families.is_empty()
        && args.tags.is_empty();
    if args.write_docs && !(full && mode == Mode::Mock && args.plugin.is_none()) {
        bail!(
            "--write-docs needs a full mock-mode run (no --provider/--check/--family, no --live)"
        );
    }
    let mut suite = Suite::new()
        .subjects(subjects)
        .regressions_file(crate::root().join("conformance/proptest-regressions/sl_003.txt"))
        .select(selection)
        .mode(mode.clone());
    if let Some(budget) = args.budget {
        suite = suite.budget(budget);
    }
    let planned = suite.plan().len();
    if planned == 0 {
        bail!("the selection matches no check; see docs/conformance.md for the ids");
    }
    if matches!(mode, Mode::Live | Mode::Record(_)) {
        let (tokens, over) = suite.estimate();
        let left_out = over.iter().filter(|o| **o).count();
        println!(
            "live: about {tokens} tokens{}",
            match args.budget {
                Some(b) => format!(" (budget {b}; {left_out} check run(s) left out)"),
                None => String::new(),
            }
        );
    }
    let bar = indicatif::ProgressBar::new(planned as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            .expect("valid template"),
    );
    let started = Instant::now();
    let report = runtime.block_on(suite.run_with(|r| {
        bar.inc(1);
        bar.set_message(format!(
            "{} [{}] {}",
            r.check,
            r.provider,
            r.outcome.label()
        ));
    }));
    bar.finish_and_clear();
    println!(
        "conformance ({mode:?} mode, {planned} runs in {:.1} s)\n",
        started.elapsed().as_secs_f64()
    );
    print!("{}", report.matrix());
    let notes = report.failures_text();
    if !notes.is_empty() {
        println!("\n{notes}");
    }
    if let Some(dir) = &args.report_dir {
        report.write_dir(dir)?;
        println!("reports written to {}", dir.display());
    }
    if args.write_docs {
        // The page has the suite through the server too: every provider, both doors.
        println!("\nThe suite through `concord serve`, every provider through both doors:");
        let served = run_report(Args {
            through_server: vec!["all".into()],
            ..Args::mock_all()
        })?;
        crate::docs::write_or_check(
            "docs/conformance.md",
            &concord_conformance::report::conformance_doc(&report, &served),
            args.check_docs,
            "cargo xtask conformance --write-docs",
        )?;
    }
    let failed: Vec<&str> = report
        .results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Fail(_)))
        .map(|r| r.check)
        .collect();
    if let Some(path) = &args.known_failures {
        compare_known(path, &failed)?;
        return Ok(report);
    }
    if !failed.is_empty() {
        bail!("{} check(s) failed", failed.len());
    }
    Ok(report)
}

/// Live mode as a user runs it against a server of theirs: `concord mock` started as an
/// ordinary HTTP server (keyed, as a vendor is), then `--live --provider openai-compatible
/// --base-url URL` for Chat Completions and Responses, and the official openai SDK plugin the
/// same way. Every live check must pass.
pub fn live_against_mock() -> Result<()> {
    const KEY: &str = "sk-ci-live-mock-0000";
    crate::sdk::ensure_sdks()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    crate::run(&cargo, &["build", "--quiet", "-p", "concord-cli"])?;
    // The key travels as the variable a user sets; this process runs nothing else live.
    std::env::set_var("OPENAI_COMPATIBLE_API_KEY", KEY);
    let sdk_plugin = crate::root().join("plugins/openai-sdk/manifest.json");
    let runs = [
        ("openai", None, None),
        ("openai-responses", Some("responses"), None),
        ("openai", None, Some(sdk_plugin)),
    ];
    for (protocol, api, plugin) in runs {
        let mock = MockProcess::start(protocol, KEY)?;
        println!("\n`concord mock --protocol {protocol}` at {}", mock.url);
        let args = match plugin {
            Some(manifest) => Args {
                protocol: Some(protocol.into()),
                ..Args::plugin(manifest, protocol, None)
            },
            None => Args {
                providers: vec!["openai-compatible".into()],
                api: api.map(str::to_owned),
                ..Args::mock_all()
            },
        };
        let report = run_report(Args {
            mock_providers: false,
            live: true,
            base_url: Some(mock.url.clone()),
            ..args
        })?;
        let (pass, _, skip) = report.counts();
        if pass < 15 || skip > 0 {
            bail!("live run against concord mock: {pass} passed, {skip} skipped; every live check should pass");
        }
    }
    // And against `concord serve --mock-providers`, as a team checks its deployment: the
    // demo tenant's key, the first model the server lists (an Anthropic one: an OpenAI
    // client through the server to another vendor).
    let server = ServeProcess::start()?;
    println!("\n`concord serve --mock-providers` at {}", server.url);
    std::env::set_var("OPENAI_COMPATIBLE_API_KEY", &server.key);
    let report = run_report(Args {
        providers: vec!["openai-compatible".into()],
        mock_providers: false,
        live: true,
        base_url: Some(format!("{}/v1", server.url)),
        ..Args::mock_all()
    })?;
    let (pass, _, skip) = report.counts();
    if pass < 15 || skip > 0 {
        bail!("live run against concord serve: {pass} passed, {skip} skipped; every live check should pass");
    }
    Ok(())
}

/// `concord serve --mock-providers` on a free port with a database of its own, stopped (and
/// its folder removed) when dropped.
struct ServeProcess {
    child: std::process::Child,
    url: String,
    key: String,
    data: PathBuf,
}

impl ServeProcess {
    fn start() -> Result<Self> {
        use std::io::BufRead;
        let concord = crate::root().join("target/debug/concord");
        let data = std::env::temp_dir().join(format!("concord-xtask-serve-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        let mut child = std::process::Command::new(&concord)
            .args(["serve", "--mock-providers", "--listen", "127.0.0.1:0"])
            .env("CONCORD_DATA_DIR", &data)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", concord.display()))?;
        let stdout = child.stdout.take().context("the server's stdout")?;
        let mut lines = std::io::BufReader::new(stdout).lines();
        let mut next =
            || -> Result<String> { Ok(lines.next().context("the server printed nothing")??) };
        let first = next()?;
        let url = first
            .split("listening on ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .with_context(|| format!("no address in {first:?}"))?
            .to_owned();
        let second = next()?;
        let key = second
            .rsplit(' ')
            .next()
            .filter(|k| k.starts_with("sk-concord-"))
            .context("no demo key printed")?
            .to_owned();
        Ok(Self {
            child,
            url,
            key,
            data,
        })
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// A `concord mock` process, stopped when dropped.
struct MockProcess {
    child: std::process::Child,
    url: String,
}

impl MockProcess {
    fn start(protocol: &str, key: &str) -> Result<Self> {
        use std::io::BufRead;
        let concord = crate::root().join("target/debug/concord");
        let mut child = std::process::Command::new(&concord)
            .args(["mock", "--protocol", protocol, "--key", key])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", concord.display()))?;
        let stdout = child.stdout.take().context("the mock's stdout")?;
        let mut process = Self {
            child,
            url: String::new(),
        };
        std::io::BufReader::new(stdout).read_line(&mut process.url)?;
        process.url = process.url.trim().to_owned();
        Ok(process)
    }
}

impl Drop for MockProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The --provider names, with `--api` applied (`openai-compatible` + `responses` is the
/// subject `openai-compatible-responses`).
fn provider_names(args: &Args) -> Result<Vec<String>> {
    let Some(api) = &args.api else {
        return Ok(args.providers.clone());
    };
    let api = concord::Api::from_name(api).with_context(|| {
        format!("unknown API `{api}`; known: chat, responses, messages, generate-content")
    })?;
    if args.providers.is_empty() {
        bail!("--api needs --provider");
    }
    args.providers
        .iter()
        .map(|p| {
            let d =
                concord::descriptor::get(p).with_context(|| format!("unknown provider `{p}`"))?;
            if !d.apis.contains(&api) {
                bail!("{p} does not speak the {} API", api.name());
            }
            Ok(if api == d.apis[0] {
                p.clone()
            } else {
                format!("{p}-{}", api.name())
            })
        })
        .collect()
}

/// The one subject of a run against the server at `url`: its row's provider (or the plugin,
/// reaching the server as the row of its protocol would), with the base URL, the model
/// (--model, its variable, or the first the server lists) and, when its key variable is unset,
/// a placeholder key (local servers often check none).
fn one_server(
    args: &Args,
    providers: &[String],
    url: &str,
    plugin: Option<Subject>,
    runtime: &tokio::runtime::Runtime,
) -> Result<Subject> {
    let (d, subject) = match plugin {
        Some(subject) => {
            let row = match subject.protocol {
                Protocol::Openai | Protocol::OpenaiResponses => "openai-compatible",
                Protocol::Anthropic => "anthropic",
                Protocol::Gemini => "gemini",
            };
            (
                *concord::descriptor::get(row).expect("a shipped row"),
                subject,
            )
        }
        None => {
            let [name] = providers else {
                bail!("--base-url names one server: give exactly one --provider");
            };
            let row = args.providers[0].as_str();
            let d = *concord::descriptor::get(row)
                .with_context(|| format!("unknown provider `{row}`"))?;
            let api = d
                .apis
                .iter()
                .copied()
                .find(|a| *name == row || name.ends_with(a.name()))
                .unwrap_or(d.apis[0]);
            let subject = Subject::from_descriptor(&d, api)
                .with_context(|| format!("{row} does not speak {}", api.name()))?;
            (d, subject)
        }
    };
    let key = match d.key.get() {
        Some(key) => key,
        None => {
            println!(
                "{} not set: sending a placeholder key (a server that checks keys refuses it)",
                d.key.name
            );
            "sk-concord-placeholder-key".to_owned()
        }
    };
    let model = match args.model.clone().or_else(|| d.live_model.get_or_default()) {
        Some(m) => m,
        None => {
            let m = runtime
                .block_on(first_listed_model(url, &key))
                .with_context(|| format!("no model: give --model or set {}", d.live_model.name))?;
            println!("model `{m}`: the first the server lists at {url}/models");
            m
        }
    };
    let live = Live::from_descriptor_with(
        d,
        vec![
            (d.base_url.name.into(), url.to_owned()),
            (d.key.name.into(), key),
            (d.live_model.name.into(), model),
        ],
    );
    Ok(subject.with_live(live))
}

/// The first model of an OpenAI-style `GET {base}/models` list.
async fn first_listed_model(base: &str, key: &str) -> Result<String> {
    let url = format!("{}/models", base.trim_end_matches('/'));
    let response = concord::reqwest::Client::new()
        .get(&url)
        .bearer_auth(key)
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .with_context(|| format!("GET {url}"))?;
    let body: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("GET {url} ({status}): not a JSON model list"))?;
    body["data"][0]["id"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("GET {url} ({status}): no model in the list"))
}

/// Fails unless exactly the checks listed in `path` failed.
fn compare_known(path: &std::path::Path, failed: &[&str]) -> Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the known failures {}", path.display()))?;
    let listed: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split(':').next().unwrap_or(l).trim())
        .collect();
    let unexpected: Vec<&&str> = failed.iter().filter(|c| !listed.contains(c)).collect();
    let fixed: Vec<&&str> = listed.iter().filter(|c| !failed.contains(c)).collect();
    println!(
        "\nknown failures ({}): {} listed, {} failed",
        path.display(),
        listed.len(),
        failed.len()
    );
    if !unexpected.is_empty() || !fixed.is_empty() {
        bail!(
            "failures not listed in {}: {unexpected:?}; listed but passing now (remove them): {fixed:?}",
            path.display()
        );
    }
    Ok(())
}
