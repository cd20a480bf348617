//! What the CAT checks drive: a model database with its metering — concord-models' (the
//! default) or a deliberately broken one (`broken_models`) — behind one small trait.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use concord::Provider;
use concord_dispatch::{DispatchConfig, Dispatcher, Limits};
use concord_models::{CallRecord, Metered, Model, Models, ProviderLimits, Recorder, SqlStore};
use futures_util::future::BoxFuture;

/// A model database under test, opened fresh for one check.
pub trait ModelsUnderTest: Send + Sync {
    /// Adds or changes a model.
    fn save(&self, model: Model) -> BoxFuture<'_, Result<(), String>>;
    /// Makes `provider/model` the default of `purpose`.
    fn set_default<'a>(
        &'a self,
        purpose: &'a str,
        provider: &'a str,
        model: &'a str,
    ) -> BoxFuture<'a, Result<(), String>>;
    /// Sets a provider's limits.
    fn set_limits(&self, limits: ProviderLimits) -> BoxFuture<'_, Result<(), String>>;
    /// `provider` behind the model database (filed under `name`): calls metered and recorded, its
    /// limits following the model database's.
    fn wrap(&self, provider: Arc<dyn Provider>, name: &str) -> Arc<dyn Provider>;
    /// Every call recorded so far (waiting for the ones still being written).
    fn records(&self) -> BoxFuture<'_, Result<Vec<CallRecord>, String>>;
    /// The deprecation warnings calls gave, in order.
    fn warnings(&self) -> Vec<String>;
    /// How long an edited limit may take to be enforced (the documented bound).
    fn limits_delay(&self) -> Duration;
}

/// Opens a fresh model database under test in a folder of the check's own.
pub type ModelsFactory = Arc<
    dyn Fn(&Path) -> BoxFuture<'static, Result<Arc<dyn ModelsUnderTest>, String>> + Send + Sync,
>;

/// concord-models': a SQLite model database in the folder, `Metered` over a `Dispatcher` that
/// follows the model database's limits.
pub fn default_models() -> ModelsFactory {
    Arc::new(|dir: &Path| {
        let url = format!("sqlite://{}", dir.join("models.db").display());
        Box::pin(async move {
            let store = Arc::new(SqlStore::open(&url).await.map_err(|e| e.to_string())?);
            let models = Arc::new(
                Models::open(store.clone())
                    .await
                    .map_err(|e| e.to_string())?,
            );
            Ok(Arc::new(ConcordModels {
                recorder: Recorder::new(store),
                models,
                warnings: Arc::default(),
                followers: std::sync::Mutex::default(),
            }) as Arc<dyn ModelsUnderTest>)
        })
    })
}

/// The bound on a limit's way from the model database to the dispatcher in [`default_models`].
const FOLLOW_EVERY: Duration = Duration::from_millis(50);

/// concord-models, as a service puts it together.
pub struct ConcordModels {
    models: Arc<Models>,
    recorder: Recorder,
    warnings: Arc<std::sync::Mutex<Vec<String>>>,
    followers: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Drop for ConcordModels {
    fn drop(&mut self) {
        for f in self.followers.lock().expect("followers").drain(..) {
            f.abort();
        }
    }
}

fn text<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

impl ModelsUnderTest for ConcordModels {
    fn save(&self, model: Model) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.models.save(&model).await.map_err(text) })
    }

    fn set_default<'a>(
        &'a self,
        purpose: &'a str,
        provider: &'a str,
        model: &'a str,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.models
                .set_default(purpose, provider, model)
                .await
                .map_err(text)
        })
    }

    fn set_limits(&self, limits: ProviderLimits) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.models.set_limits(&limits).await.map_err(text) })
    }

    fn wrap(&self, provider: Arc<dyn Provider>, name: &str) -> Arc<dyn Provider> {
        // The model database's metering outside, the dispatcher (its limits only) inside.
        let config = DispatchConfig {
            breaker: None,
            retry: concord_dispatch::RetryPolicy::default().with_max_retries(0),
            limits: Limits::default(),
            ..DispatchConfig::default()
        };
        let dispatcher =
            Arc::new(Dispatcher::from_arc(provider, config).expect("valid dispatcher settings"));
        self.followers
            .lock()
            .expect("followers")
            .push(concord_models::limits::follow(
                self.models.clone(),
                name.to_owned(),
                Limits::default(),
                Arc::downgrade(&dispatcher),
                FOLLOW_EVERY,
            ));
        let warnings = self.warnings.clone();
        Arc::new(
            Metered::new(dispatcher, self.models.clone(), self.recorder.clone())
                .listed_as(name)
                .on_warning(Arc::new(move |w: &str| {
                    warnings.lock().expect("warnings").push(w.to_owned())
                })),
        )
    }

    fn records(&self) -> BoxFuture<'_, Result<Vec<CallRecord>, String>> {
        Box::pin(async move {
            self.recorder.flush().await;
            self.models.store().calls(0).await.map_err(text)
        })
    }

    fn warnings(&self) -> Vec<String> {
        self.warnings.lock().expect("warnings").clone()
    }

    fn limits_delay(&self) -> Duration {
        FOLLOW_EVERY * 4
    }
}
