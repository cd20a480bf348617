//! Deliberately broken model databases, one mistake each, the kind the price tables users pick
//! instead have shipped: the self-test runs the CAT family against each and expects exactly its
//! checks to fail, so every CAT check is proven able to fail.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use concord::Provider;
use concord_models::{cost, CallRecord, Model, PriceSet, ProviderLimits, Status};
use futures_util::future::BoxFuture;

use crate::under_test::{default_models, ModelsFactory, ModelsUnderTest};

/// A model database's mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelsFlaw {
    /// Cached input is charged at the full input price.
    NoCacheDiscount,
    /// A record points at the model's prices instead of keeping them: a price edit rewrites
    /// old costs.
    PricesByReference,
    /// Lifecycle is ignored: deprecated models do not warn, inactive ones are called.
    NoLifecycle,
    /// The default model is never used.
    NoDefault,
    /// The model database's provider limits never reach the dispatcher.
    LimitsIgnored,
    /// A call without usage (a cut stream) is recorded at a cost of zero.
    InventedCost,
}

impl ModelsFlaw {
    /// Every flaw.
    pub const ALL: [ModelsFlaw; 6] = [
        ModelsFlaw::NoCacheDiscount,
        ModelsFlaw::PricesByReference,
        ModelsFlaw::NoLifecycle,
        ModelsFlaw::NoDefault,
        ModelsFlaw::LimitsIgnored,
        ModelsFlaw::InventedCost,
    ];

    /// A factory of model databases with this flaw.
    pub fn factory(self) -> ModelsFactory {
        let inner = default_models();
        Arc::new(move |dir: &Path| {
            let open = inner(dir);
            Box::pin(async move {
                let inner = open.await?;
                Ok(Arc::new(Broken {
                    inner,
                    flaw: self,
                    models: std::sync::Mutex::default(),
                }) as Arc<dyn ModelsUnderTest>)
            })
        })
    }
}

struct Broken {
    inner: Arc<dyn ModelsUnderTest>,
    flaw: ModelsFlaw,
    /// The models saved, for the flaws that recompute costs from today's prices.
    models: std::sync::Mutex<Vec<Model>>,
}

impl Broken {
    fn current(&self, r: &CallRecord) -> Option<Model> {
        self.models
            .lock()
            .expect("models")
            .iter()
            .rev()
            .find(|m| m.provider == r.provider && m.id == r.model)
            .cloned()
    }
}

impl ModelsUnderTest for Broken {
    fn save(&self, model: Model) -> BoxFuture<'_, Result<(), String>> {
        self.models.lock().expect("models").push(model.clone());
        let model = match self.flaw {
            ModelsFlaw::NoLifecycle => Model {
                status: Status::Active,
                ..model
            },
            _ => model,
        };
        self.inner.save(model)
    }

    fn set_default<'a>(
        &'a self,
        purpose: &'a str,
        provider: &'a str,
        model: &'a str,
    ) -> BoxFuture<'a, Result<(), String>> {
        match self.flaw {
            ModelsFlaw::NoDefault => Box::pin(async { Ok(()) }),
            _ => self.inner.set_default(purpose, provider, model),
        }
    }

    fn set_limits(&self, limits: ProviderLimits) -> BoxFuture<'_, Result<(), String>> {
        match self.flaw {
            ModelsFlaw::LimitsIgnored => Box::pin(async { Ok(()) }),
            _ => self.inner.set_limits(limits),
        }
    }

    fn wrap(&self, provider: Arc<dyn Provider>, name: &str) -> Arc<dyn Provider> {
        self.inner.wrap(provider, name)
    }

    fn records(&self) -> BoxFuture<'_, Result<Vec<CallRecord>, String>> {
        Box::pin(async move {
            let mut records = self.inner.records().await?;
            for r in &mut records {
                match self.flaw {
                    ModelsFlaw::NoCacheDiscount => {
                        if let Some(mut p) = r.prices {
                            let full = |s: &mut PriceSet| s.cache_read = Some(s.input);
                            full(&mut p.base);
                            if let Some((_, above)) = &mut p.above {
                                full(above);
                            }
                            r.cost = cost(&r.usage, &p).map(|c| c.total);
                        }
                    }
                    ModelsFlaw::PricesByReference => {
                        if let Some(m) = self.current(r) {
                            r.prices = Some(m.prices);
                            r.cost = cost(&r.usage, &m.prices).map(|c| c.total);
                        }
                    }
                    ModelsFlaw::InventedCost if r.cost.is_none() => {
                        r.cost = Some(concord_models::Money(0));
                    }
                    _ => {}
                }
            }
            Ok(records)
        })
    }

    fn warnings(&self) -> Vec<String> {
        self.inner.warnings()
    }

    fn limits_delay(&self) -> Duration {
        self.inner.limits_delay()
    }
}
