//! `concord config check [FILE]`: the resolved configuration with the source of every value
//! (secrets as references), every problem at once, exit 2 on any.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use concord_registry::settings::CONCORD_CONFIG;
use concord_registry::{Error, Options, Registry, Settings, Sources};

use crate::EXIT_USAGE;

/// Check a configuration file.
#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Load FILE (default: CONCORD_CONFIG) with the environment, print the resolved
    /// configuration with where each value came from, and list every problem (exit 2).
    Check(CheckArgs),
}

/// `concord config check`.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  concord config check concord.toml\n  CONCORD_DISPATCH_RETRIES=5 concord config check concord.toml --set dispatcher.rate=10/s"
)]
pub struct CheckArgs {
    /// The file (default: CONCORD_CONFIG; without either, the defaults and the environment).
    file: Option<PathBuf>,
    /// Override a setting, winning over the file and the environment: `--set dispatcher.retries=3`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

/// Sources from a file argument (else `CONCORD_CONFIG`), the environment and `--set`s.
pub(crate) fn sources(file: Option<PathBuf>, set: &[String]) -> Result<Sources<'static>, String> {
    let file = file.or_else(|| CONCORD_CONFIG.get().map(PathBuf::from));
    let mut src = Sources::from_env(file);
    for s in set {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| format!("--set {s:?}: expected KEY=VALUE, like dispatcher.retries=3"))?;
        src.overrides
            .push((k.trim().to_owned(), v.trim().to_owned()));
    }
    Ok(src)
}

/// What every command working with configured providers starts from: the checked settings and
/// an empty registry made from them. `Err` is the exit code (2 for the configuration, 1 for the
/// client) and what to say.
pub(crate) fn open(src: &Sources<'_>) -> Result<(Settings, Registry), (u8, String)> {
    let settings = load(src).map_err(|e| (EXIT_USAGE, e.to_string()))?;
    notices(&settings);
    let client = crate::http_client().map_err(|m| (crate::EXIT_PROVIDER, m))?;
    let registry = Registry::new(Options::from_settings(&settings, client));
    Ok((settings, registry))
}

/// Loads and checks the program's configuration: the registry's sections and the server's
/// (`concord_server::sections`), so every command accepts the same file.
pub(crate) fn load(src: &Sources<'_>) -> Result<Settings, concord_registry::Error> {
    concord_registry::load_with(src, &concord_server::sections())
}

/// What loading noticed (an old variable name in use), on stderr.
pub(crate) fn notices(settings: &Settings) {
    for n in settings.config.notices() {
        eprintln!("notice: {n}");
    }
}

pub fn run(command: ConfigCommand) -> u8 {
    let ConfigCommand::Check(args) = command;
    let src = match sources(args.file, &args.set) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    match load(&src) {
        Ok(settings) => {
            notices(&settings);
            out_part!("{}", settings.render());
            // Secrets that are referenced but not there yet: worth knowing, not an error (a
            // deployment may provide them later).
            for (name, p) in &settings.providers {
                if let (true, Some(r)) = (p.enabled, &p.credential) {
                    if let Err(why) = r.resolve(&|v| std::env::var(v).ok()) {
                        eprintln!("warning: providers.{name}.credential: {why}");
                    }
                }
            }
            eprintln!(
                "ok: {} provider section(s){}",
                settings.providers.len(),
                settings
                    .file()
                    .map(|f| format!(" in {}", f.display()))
                    .unwrap_or_default()
            );
            0
        }
        Err(Error::Config(problems)) => {
            eprintln!("error: {problems}");
            EXIT_USAGE
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_USAGE
        }
    }
}
