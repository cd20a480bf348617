//! Discovery: providers from the config file's sections, from the environment (a shipped
//! provider for every row whose key variable is set) and from a folder of plugin manifests;
//! and refreshing the file's providers while calls run.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use concord::descriptor::DESCRIPTORS;

use super::{build, Placement, Registry, Source};
use crate::settings::{ProviderSettings, Settings, Sources};

/// What one source gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceReport {
    /// The source.
    pub source: Source,
    /// Names registered.
    pub added: Vec<String>,
    /// Names not registered, with why.
    pub skipped: Vec<(String, String)>,
}

/// What [`Registry::discover_all`] did, per source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    /// Config, environment, plugins, in that order (a name taken by an earlier source is
    /// skipped by a later one).
    pub sources: Vec<SourceReport>,
}

/// The names [`Registry::discover_all`] would try to register from `settings` (enabled file
/// sections, shipped providers whose key variable `env` has, the plugins folder's manifests),
/// with nothing built or started: what a listing shows as registered without spawning plugins.
/// A name here can still fail to register (a bad credential reference, a plugin that does not
/// start); `discover_all` reports those.
pub fn planned_names(
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
) -> std::collections::BTreeSet<String> {
    let mut names: std::collections::BTreeSet<String> = settings
        .providers
        .iter()
        .filter(|(_, s)| s.enabled)
        .map(|(n, _)| n.clone())
        .collect();
    if settings.registry.discover_env {
        names.extend(
            DESCRIPTORS
                .iter()
                .filter(|row| env(row.key.name).is_some_and(|v| !v.is_empty()))
                .map(|row| row.name.to_owned()),
        );
    }
    if let Some(dir) = &settings.registry.plugins_dir {
        names.extend(manifests(dir).into_iter().map(|(n, _)| n));
    }
    names
}

/// The plugins folder's `NAME/manifest.json` files, sorted by name.
fn manifests(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut manifests: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let manifest = e.path().join("manifest.json");
            manifest
                .is_file()
                .then(|| (e.file_name().to_string_lossy().into_owned(), manifest))
        })
        .collect();
    manifests.sort();
    manifests
}

impl Registry {
    /// Registers every provider the configuration, the environment and the plugins folder
    /// describe, and reports per source what was added and what was skipped, and why.
    pub async fn discover_all(&self, settings: &Settings) -> Discovery {
        let mut sources = vec![self.discover_config(settings).await];
        if settings.registry.discover_env {
            sources.push(self.discover_environment());
        }
        if let Some(dir) = &settings.registry.plugins_dir {
            sources.push(self.discover_plugins(dir).await);
        }
        Discovery { sources }
    }

    async fn discover_config(&self, settings: &Settings) -> SourceReport {
        let mut r = report(Source::Config);
        for (name, s) in &settings.providers {
            if !s.enabled {
                r.skipped.push((name.clone(), "enabled = false".into()));
                continue;
            }
            let outcome = self
                .register_from(name, s.clone(), Source::Config, s.origin.clone())
                .await;
            r.record(name, outcome);
        }
        r
    }

    fn discover_environment(&self) -> SourceReport {
        let mut r = report(Source::Environment);
        let env = self.inner.options.env.clone();
        for row in DESCRIPTORS {
            if env(row.key.name).is_none_or(|v| v.is_empty()) {
                continue;
            }
            if self.contains(row.name) {
                r.skipped.push((
                    row.name.to_owned(),
                    format!(
                        "{} is set, but a provider called {} is registered already",
                        row.key.name, row.name
                    ),
                ));
                continue;
            }
            let registered = build::from_env(row, &self.defaults())
                .map_err(|cause| self.failed(row.name, cause))
                .and_then(|(provider, ctx)| {
                    self.insert(
                        row.name,
                        provider,
                        ctx,
                        Placement::section(Source::Environment, row.key.name.to_owned()),
                    )
                });
            r.record(row.name, registered);
        }
        r
    }

    async fn discover_plugins(&self, dir: &Path) -> SourceReport {
        let mut r = report(Source::Plugin);
        for (name, manifest) in manifests(dir) {
            if let Err(e) = self.admit(&name) {
                r.skipped.push((name, e.to_string()));
                continue;
            }
            let registered = match build::start_plugin(&manifest).await {
                Ok(p) => {
                    let ctx =
                        concord::RuntimeContext::new().client(self.inner.options.client.clone());
                    self.insert(
                        &name,
                        Arc::new(p),
                        ctx,
                        Placement::section(Source::Plugin, manifest.display().to_string()),
                    )
                }
                Err(cause) => Err(self.failed(&name, cause)),
            };
            r.record(&name, registered);
        }
        r
    }

    /// Applies a re-read configuration to the providers that came from the file: sections
    /// gone (or disabled) are unregistered, new ones registered, changed ones rebuilt and
    /// swapped in one step (no `get` in between finds nothing). Calls in flight keep the
    /// provider they started with. A changed section that no longer builds leaves the old
    /// provider in place and is reported.
    pub async fn refresh(&self, settings: &Settings) -> SourceReport {
        let mut r = report(Source::Config);
        let current: Vec<(String, Option<ProviderSettings>)> = self
            .inner
            .entries
            .load()
            .values()
            .filter(|e| e.source == Source::Config)
            .map(|e| (e.name.clone(), e.config.clone()))
            .collect();
        for (name, old) in &current {
            match settings.providers.get(name).filter(|s| s.enabled) {
                None => {
                    let _ = self.unregister(name);
                    r.skipped
                        .push((name.clone(), "removed from the file".into()));
                }
                Some(new) if old.as_ref().is_some_and(|old| new.same_as(old)) => {}
                Some(new) => {
                    let outcome = self
                        .replace_from(name, new.clone(), new.origin.clone())
                        .await;
                    r.record(name, outcome);
                }
            }
        }
        for (name, s) in &settings.providers {
            if !s.enabled || current.iter().any(|(n, _)| n == name) || self.contains(name) {
                continue;
            }
            let outcome = self
                .register_from(name, s.clone(), Source::Config, s.origin.clone())
                .await;
            r.record(name, outcome);
        }
        r
    }

    /// Re-reads `file` whenever it changes (checked every `every`) and applies it with
    /// [`Registry::refresh`]; a file with problems is reported as a `provider_error` event and
    /// changes nothing. A shutdown stops it.
    pub fn watch(&self, file: PathBuf, every: Duration) {
        let this = Arc::downgrade(&self.inner);
        let task = tokio::spawn(async move {
            let mut seen = modified(&file);
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let now = modified(&file);
                if now == seen {
                    continue;
                }
                seen = now;
                let Some(inner) = this.upgrade() else { return };
                let reg = Registry { inner };
                let env = reg.inner.options.env.clone();
                let src = Sources {
                    file: Some(file.clone()),
                    env: Box::new(move |n| env(n)),
                    overrides: Vec::new(),
                };
                match crate::settings::load(&src) {
                    Ok(settings) => {
                        reg.refresh(&settings).await;
                    }
                    Err(e) => reg.emit(super::Event::ProviderError {
                        name: file.display().to_string(),
                        message: format!("not applied: {e}"),
                    }),
                }
            }
        });
        self.keep(task);
    }
}

fn report(source: Source) -> SourceReport {
    SourceReport {
        source,
        added: Vec::new(),
        skipped: Vec::new(),
    }
}

impl SourceReport {
    /// Notes `name` as added, or as skipped with the error's words.
    fn record<T>(&mut self, name: &str, outcome: Result<T, crate::Error>) {
        match outcome {
            Ok(_) => self.added.push(name.to_owned()),
            Err(e) => self.skipped.push((name.to_owned(), e.to_string())),
        }
    }
}

fn modified(file: &Path) -> Option<SystemTime> {
    std::fs::metadata(file).and_then(|m| m.modified()).ok()
}
