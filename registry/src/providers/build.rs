//! A provider and its call template from a `[providers.<name>]` section, a descriptor row found
//! in the environment, or a plugin manifest.

use std::path::Path;
use std::sync::Arc;

use concord::descriptor::{Connection, Descriptor};
use concord::env::EnvVar;
use concord::plugin::{Manifest, PluginProvider, PROTOCOL_VERSION};
use concord::{Credential, Error, ErrorKind, Parameters, Provider, RuntimeContext};

use crate::settings::{ProviderKind, ProviderSettings};

/// What building needs from the registry.
pub(crate) struct Defaults<'a> {
    pub client: &'a reqwest::Client,
    pub env: &'a (dyn Fn(&str) -> Option<String> + Send + Sync),
    pub timeout: std::time::Duration,
}

/// What a build gives: the provider and the context template its calls start from.
type Built = Result<(Arc<dyn Provider>, RuntimeContext), Error>;

/// The provider and context template of a section; `Err` says what to fix, naming the setting.
pub(crate) async fn from_settings(s: &ProviderSettings, d: &Defaults<'_>) -> Built {
    let (provider, mut ctx): (Arc<dyn Provider>, RuntimeContext) = match &s.kind {
        ProviderKind::Builtin(row) => builtin_context(row, s, d)?,
        ProviderKind::Plugin(manifest) => {
            let provider = start_plugin(manifest).await?;
            let ctx = RuntimeContext::new().client(d.client.clone());
            (Arc::new(provider), ctx)
        }
    };
    ctx.model = s.model.clone();
    ctx.settings = Parameters {
        temperature: s.temperature,
        max_output_tokens: s.max_tokens,
        ..ctx.settings
    };
    Ok((provider, ctx))
}

/// The row's [`Connection`] from the environment (its variables, the enterprise gateway's),
/// with what the section sets laid over it; then the one build path every caller shares.
fn builtin_context(row: &Descriptor, s: &ProviderSettings, d: &Defaults<'_>) -> Built {
    let at = |e: Error| {
        Error::new(
            e.kind,
            &s.name,
            format!("providers.{}: {}", s.name, e.message),
        )
    };
    let mut c = Connection::from_vars(row, &lookup(d)).map_err(at)?;
    if let Some(r) = &s.credential {
        let key = r.resolve(d.env).map_err(|why| {
            Error::new(
                ErrorKind::MissingRuntimeContext,
                &s.name,
                format!("providers.{}.credential: {why}", s.name),
            )
        })?;
        c.key = Some(Credential::new(key));
    }
    c.api = s.api.or(c.api);
    c.base_url = s.base_url.clone().or(c.base_url);
    c.api_version = s.api_version.clone().or(c.api_version);
    c.project = s.project.clone().or(c.project);
    c.location = s.location.clone().or(c.location);
    c.timeout = Some(s.timeout.unwrap_or(d.timeout));
    let (provider, ctx) = row.connect(&c, d.client.clone()).map_err(at)?;
    Ok((Arc::new(provider), ctx))
}

/// The environment as the registry reads it, each variable's default where it is unset.
fn lookup<'a>(d: &'a Defaults<'_>) -> impl Fn(&EnvVar) -> Option<String> + 'a {
    |var: &EnvVar| {
        (d.env)(var.name)
            .filter(|v| !v.is_empty())
            .or_else(|| var.default.map(str::to_owned))
    }
}

/// A provider and context for a row found in the environment (its key variable set).
pub(crate) fn from_env(row: &Descriptor, d: &Defaults<'_>) -> Built {
    let mut c = Connection::from_vars(row, &lookup(d))?;
    c.timeout = c.timeout.or(Some(d.timeout));
    let (provider, mut ctx) = row.connect(&c, d.client.clone())?;
    ctx.model = lookup(d)(&row.live_model);
    Ok((Arc::new(provider), ctx))
}

/// Checks a manifest (its schema, protocol version, that its program exists) and starts the
/// plugin (its handshake checks the version again). A plugin is a separate process: it can
/// crash or misbehave without touching the host's memory.
pub(crate) async fn start_plugin(manifest: &Path) -> Result<PluginProvider, Error> {
    let invalid = |why: String| Error::new(ErrorKind::InvalidConfig, "plugin", why);
    let m = Manifest::load(manifest)?;
    if let Some(v) = m.protocol {
        if v != PROTOCOL_VERSION {
            return Err(invalid(format!(
                "{} declares plugin protocol {v}; this host speaks {PROTOCOL_VERSION}",
                manifest.display()
            )));
        }
    }
    let program = &m.command[0];
    if !program_exists(program, m.dir.as_deref()) {
        return Err(invalid(format!(
            "{}: the program {program:?} is not there (install it, or fix `command`)",
            manifest.display()
        )));
    }
    PluginProvider::start(m).await
}

fn program_exists(program: &str, dir: Option<&Path>) -> bool {
    let p = Path::new(program);
    if program.contains('/') {
        return match dir {
            Some(d) if p.is_relative() => d.join(p).is_file(),
            _ => p.is_file(),
        };
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}
