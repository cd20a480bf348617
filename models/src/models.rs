//! The model database as a program reads it: every model, the defaults per purpose and each
//! provider's limits, held in memory (an `arc-swap` snapshot: a lookup is a hash lookup, never a
//! query) and refreshed from the store after every write through it and at an interval (for
//! edits made by other instances).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::error::{Error, Result};
use crate::import;
use crate::model::{Model, ProviderLimits, Status};
use crate::store::{ImportReport, Store};

/// The settings key of a purpose's default model.
fn default_key(purpose: &str) -> String {
    format!("default.{purpose}")
}

#[derive(Default)]
struct Snapshot {
    models: HashMap<(String, String), Arc<Model>>,
    defaults: BTreeMap<String, String>,
    limits: HashMap<String, ProviderLimits>,
}

/// What using a model means now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Use it.
    Use,
    /// Use it, and say this (its deprecation and replacement).
    Warn(String),
    /// Refuse it, saying this (what to use instead).
    Refuse(String),
}

/// The model database: a store and its in-memory snapshot.
pub struct Models {
    store: Arc<dyn Store>,
    snapshot: ArcSwap<Snapshot>,
    /// Told of every write made through here (a server tells its other instances).
    changed: crate::Notify,
}

impl std::fmt::Debug for Models {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Models")
            .field("models", &self.snapshot.load().models.len())
            .finish_non_exhaustive()
    }
}

impl Models {
    /// The model database over `store`, read once. An empty store is seeded from the vendored
    /// snapshot first, so a fresh installation lists the shipped providers' models.
    pub async fn open(store: Arc<dyn Store>) -> Result<Self> {
        if store.models().await?.is_empty() {
            let parsed = import::parse(
                import::SNAPSHOT,
                "the vendored snapshot",
                import::SNAPSHOT_SOURCE,
            )?;
            store.import(&parsed.models, false).await?;
        }
        let models = Self {
            store,
            snapshot: ArcSwap::default(),
            changed: crate::Notify::default(),
        };
        models.refresh().await?;
        Ok(models)
    }

    /// Reads everything again from the store.
    pub async fn refresh(&self) -> Result<()> {
        let models = self.store.models().await?;
        let settings = self.store.settings().await?;
        let limits = self.store.limits().await?;
        let defaults = settings
            .into_iter()
            .filter_map(|(k, v)| {
                let purpose = k.strip_prefix("default.")?.to_owned();
                Some((purpose, serde_json::from_str::<String>(&v).ok()?))
            })
            .collect();
        self.snapshot.store(Arc::new(Snapshot {
            models: models
                .into_iter()
                .map(|m| ((m.provider.clone(), m.id.clone()), Arc::new(m)))
                .collect(),
            defaults,
            limits: limits
                .into_iter()
                .map(|l| (l.provider.clone(), l))
                .collect(),
        }));
        Ok(())
    }

    /// Refreshes every `every` until the returned task is aborted (edits made by other
    /// instances are seen within that long).
    pub fn refresh_every(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let this = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(models) = this.upgrade() else { return };
                if let Err(e) = models.refresh().await {
                    tracing::warn!(error = %e, "the model database could not be refreshed");
                }
            }
        })
    }

    /// The model `id` of `provider`, if in the model database.
    pub fn get(&self, provider: &str, id: &str) -> Option<Arc<Model>> {
        self.snapshot
            .load()
            .models
            .get(&(provider.to_owned(), id.to_owned()))
            .cloned()
    }

    /// Every model, by provider and id.
    pub fn all(&self) -> Vec<Arc<Model>> {
        let mut out: Vec<Arc<Model>> = self.snapshot.load().models.values().cloned().collect();
        out.sort_by(|a, b| (&a.provider, &a.id).cmp(&(&b.provider, &b.id)));
        out
    }

    /// The default model of `purpose`, as `provider/model`.
    pub fn default_for(&self, purpose: &str) -> Option<String> {
        self.snapshot.load().defaults.get(purpose).cloned()
    }

    /// Every purpose's default.
    pub fn defaults(&self) -> BTreeMap<String, String> {
        self.snapshot.load().defaults.clone()
    }

    /// A provider's limits, if the model database has them.
    pub fn limits(&self, provider: &str) -> Option<ProviderLimits> {
        self.snapshot.load().limits.get(provider).cloned()
    }

    /// Whether `model` of `provider` may be used `today` (`YYYY-MM-DD`): refused when it is
    /// inactive; a warning when it is deprecated, or its deprecation date has come. A model the
    /// model database does not have is used as it is.
    pub fn verdict(&self, provider: &str, model: &str, today: &str) -> Verdict {
        let Some(m) = self.get(provider, model) else {
            return Verdict::Use;
        };
        let instead = m
            .replaced_by
            .as_deref()
            .map_or_else(String::new, |r| format!("; use {r} instead"));
        match m.status {
            Status::Inactive => Verdict::Refuse(format!(
                "{provider}/{model} is inactive in the model database{instead}"
            )),
            Status::Deprecated => Verdict::Warn(format!(
                "{provider}/{model} is deprecated{}{instead}",
                m.deprecated_on
                    .as_deref()
                    .map_or_else(String::new, |d| format!(" (since {d})"))
            )),
            Status::Active => match m.deprecated_on.as_deref() {
                Some(d) if d <= today => Verdict::Warn(format!(
                    "{provider}/{model} is deprecated since {d}{instead}"
                )),
                _ => Verdict::Use,
            },
        }
    }

    /// Calls `f` after every write made through this model database (once set, it stays).
    pub fn on_change(&self, f: impl Fn() + Send + Sync + 'static) {
        self.changed.set(f);
    }

    /// Re-reads after a write of ours, and says so.
    async fn wrote(&self) -> Result<()> {
        let r = self.refresh().await;
        self.changed.wrote();
        r
    }

    /// Adds or changes a model (a person's edit), and reads the model database again.
    pub async fn save(&self, model: &Model) -> Result<()> {
        if let Some(why) = model.problem() {
            return Err(Error::Invalid(why));
        }
        self.store.save_model(model).await?;
        self.wrote().await
    }

    /// Imports models (one transaction), and reads the model database again.
    pub async fn import(&self, models: &[Model], overwrite: bool) -> Result<ImportReport> {
        if let Some(why) = models.iter().find_map(Model::problem) {
            return Err(Error::Invalid(why));
        }
        let r = self.store.import(models, overwrite).await?;
        self.wrote().await?;
        Ok(r)
    }

    /// Makes `provider/model` the default of `purpose`; it must be in the model database and usable.
    pub async fn set_default(&self, purpose: &str, provider: &str, model: &str) -> Result<()> {
        match self.get(provider, model) {
            None => {
                return Err(Error::NotFound(format!(
                    "{provider}/{model} is not in the model database"
                )))
            }
            Some(m) if m.status == Status::Inactive => {
                return Err(Error::Invalid(format!(
                    "{provider}/{model} is inactive and cannot be a default"
                )))
            }
            Some(_) => {}
        }
        let value = serde_json::to_string(&format!("{provider}/{model}")).unwrap_or_default();
        self.store
            .set_setting(&default_key(purpose), &value)
            .await?;
        self.wrote().await
    }

    /// Sets a provider's limits, and reads the model database again.
    pub async fn set_limits(&self, limits: &ProviderLimits) -> Result<()> {
        self.store.set_limits(limits).await?;
        self.wrote().await
    }

    /// The store underneath (for records).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}
