//! A provider and its call template from a `[providers.<name>]` section, a descriptor row found
//! in the environment, or a plugin manifest.

use std::path::Path;
use std::sync::Arc;

use concord::descriptor::{setup, Descriptor};
use concord::env::EnvVar;
use concord::plugin::{Manifest, PluginProvider, PROTOCOL_VERSION};
use concord::{Parameters, Provider, RuntimeContext};

use crate::settings::{ProviderKind, ProviderSettings};

/// What building needs from the registry.
pub(crate) struct Defaults<'a> {
    pub client: &'a reqwest::Client,
    pub env: &'a (dyn Fn(&str) -> Option<String> + Send + Sync),
    pub timeout: std::time::Duration,
}

/// The provider and context template of a section; `Err` says what to fix.
pub(crate) async fn from_settings(
    s: &ProviderSettings,
    d: &Defaults<'_>,
) -> Result<(Arc<dyn Provider>, RuntimeContext), String> {
    let (provider, mut ctx): (Arc<dyn Provider>, RuntimeContext) = match &s.kind {
        ProviderKind::Builtin(row) => {
            let provider = row.provider(s.api).map_err(|e| e.message)?;
            (Arc::new(provider), builtin_context(row, s, d)?)
        }
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

/// The row's own setup (its credential sources, base URL rules) fed from the section: the key
/// variable answered by the section's credential, the URL variable by its `base_url`, Azure's
/// and Vertex's variables by `api_version`, `project`, `location`; anything else from the
/// environment.
fn builtin_context(
    row: &Descriptor,
    s: &ProviderSettings,
    d: &Defaults<'_>,
) -> Result<RuntimeContext, String> {
    let credential = match &s.credential {
        Some(r) => Some(
            r.resolve(d.env)
                .map_err(|why| format!("providers.{}.credential: {why}", s.name))?,
        ),
        None => None,
    };
    let timeout = s.timeout.unwrap_or(d.timeout).as_secs().to_string();
    let lookup = |var: &EnvVar| -> Option<String> {
        let given = if var.name == row.key.name {
            credential.clone()
        } else if var.name == row.base_url.name {
            s.base_url.clone()
        } else if var.name == setup::AZURE_OPENAI_API_VERSION.name {
            s.api_version.clone()
        } else if var.name == setup::GOOGLE_CLOUD_PROJECT.name {
            s.project.clone()
        } else if var.name == setup::GOOGLE_CLOUD_LOCATION.name {
            s.location.clone()
        } else if var.name == concord::env::CONCORD_TIMEOUT_SECS.name {
            Some(timeout.clone())
        } else {
            None
        };
        given
            .or_else(|| (d.env)(var.name).filter(|v| !v.is_empty()))
            .or_else(|| var.default.map(str::to_owned))
    };
    row.context_from("", d.client.clone(), lookup)
        .map_err(|e| format!("providers.{}: {}", s.name, e.message))
}

/// A context for a row found in the environment (its key variable set).
pub(crate) fn env_context(row: &Descriptor, d: &Defaults<'_>) -> Result<RuntimeContext, String> {
    let lookup = |var: &EnvVar| -> Option<String> {
        (d.env)(var.name)
            .filter(|v| !v.is_empty())
            .or_else(|| var.default.map(str::to_owned))
    };
    let model = lookup(&row.live_model);
    let mut ctx = row
        .context_from("", d.client.clone(), lookup)
        .map_err(|e| e.message)?;
    ctx.model = model;
    if ctx.timeout.is_none() {
        ctx.timeout = Some(d.timeout);
    }
    Ok(ctx)
}

/// Checks a manifest (its schema, protocol version, that its program exists) and starts the
/// plugin (its handshake checks the version again). A plugin is a separate process: it can
/// crash or misbehave without touching the host's memory.
pub(crate) async fn start_plugin(manifest: &Path) -> Result<PluginProvider, String> {
    let m = Manifest::load(manifest).map_err(|e| e.message)?;
    if let Some(v) = m.protocol {
        if v != PROTOCOL_VERSION {
            return Err(format!(
                "{} declares plugin protocol {v}; this host speaks {PROTOCOL_VERSION}",
                manifest.display()
            ));
        }
    }
    let program = &m.command[0];
    if !program_exists(program, m.dir.as_deref()) {
        return Err(format!(
            "{}: the program {program:?} is not there (install it, or fix `command`)",
            manifest.display()
        ));
    }
    PluginProvider::start(m).await.map_err(|e| e.message)
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
