//! Calls through the model database: [`Metered`] resolves a call's model (the purpose's default when
//! the call names none), refuses an inactive one before anything is sent, warns about a
//! deprecated one naming its replacement, and records every call — its outcome, usage, and cost
//! at the prices of that moment, kept with the record ([`Recorder`]). It is a bookkeeping layer
//! in the dispatcher's shape (`concord_dispatch::hook`), so streams are recorded when they end,
//! fail or are dropped.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use concord::{Error, ErrorKind, EventStream, Provider, Request, Response, RuntimeContext};
use concord_dispatch::hook::{self, Hook, Outcome};
use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

use crate::cost::{cost, Prices};
use crate::date::today;
use crate::model::CallRecord;
use crate::models::{Models, Verdict};
use crate::store::Store;

enum Message {
    Record(Box<CallRecord>),
    Flush(oneshot::Sender<()>),
}

/// Writes call records in the background, in order, so a call never waits for the database.
/// Bounded: when the database falls behind by [`Recorder::CAPACITY`] records, new ones are
/// dropped and counted, never queued without bound.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Message>,
    dropped: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

impl Recorder {
    /// Records waiting for the database, at most.
    pub const CAPACITY: usize = 10_000;
    /// Records written in one transaction, at most.
    pub const BATCH: usize = 512;

    /// A recorder into `store` (spawns its writer on the current Tokio runtime).
    pub fn new(store: Arc<dyn Store>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Message>(Self::CAPACITY);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(Self::BATCH);
            let mut flushes = Vec::new();
            while let Some(first) = rx.recv().await {
                // What waits now goes in one transaction: under load a commit covers many
                // calls, and a lone call is written at once.
                let mut next = Some(first);
                while let Some(m) = next.take() {
                    match m {
                        Message::Record(r) => batch.push(*r),
                        Message::Flush(done) => flushes.push(done),
                    }
                    if batch.len() < Self::BATCH {
                        next = rx.try_recv().ok();
                    }
                }
                if !batch.is_empty() {
                    if store.record_all(&batch).await.is_err() {
                        // One bad record must not take its batch with it: each alone, so
                        // only what the database refuses is lost, and said.
                        for r in &batch {
                            if let Err(e) = store.record_all(std::slice::from_ref(r)).await {
                                tracing::error!(error = %e, call = %r.id, "a call record was not written");
                            }
                        }
                    }
                    batch.clear();
                }
                for done in flushes.drain(..) {
                    let _ = done.send(());
                }
            }
        });
        Self {
            tx,
            dropped: Arc::default(),
        }
    }

    /// Queues a record.
    pub fn record(&self, r: CallRecord) {
        if self.tx.try_send(Message::Record(Box::new(r))).is_err() {
            self.dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::error!(
                "the call recorder is full: the database is behind; a record was dropped"
            );
        }
    }

    /// Waits until every record queued before this call is written.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Records dropped because the database was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// What is called when a call uses a deprecated model (the CLI prints it; a gateway adds a
/// response header).
pub type OnWarning = Arc<dyn Fn(&str) + Send + Sync>;

/// A provider behind the model database.
pub struct Metered<P> {
    inner: P,
    meter: Meter,
}

struct Meter {
    models: Arc<Models>,
    recorder: Recorder,
    /// The name the model database files this provider under.
    listed_as: String,
    purpose: String,
    on_warning: Option<OnWarning>,
}

/// What a call holds until it ends.
struct Ticket {
    recorder: Recorder,
    started: Instant,
    at_ms: i64,
    tenant: Option<String>,
    provider: String,
    model: String,
    stream: bool,
    prices: Option<Prices>,
}

impl Meter {
    /// The call's model (named, or the purpose's default for this provider) and the verdict
    /// on it; `Err` refuses it.
    fn resolve<'c>(&self, ctx: &'c RuntimeContext) -> concord::Result<Cow<'c, RuntimeContext>> {
        let ctx = match &ctx.model {
            Some(_) => Cow::Borrowed(ctx),
            None => match self
                .models
                .default_for(&self.purpose)
                .and_then(|d| d.split_once('/').map(|(p, m)| (p.to_owned(), m.to_owned())))
            {
                Some((p, m)) if p == self.listed_as => Cow::Owned(ctx.clone().model(m)),
                _ => Cow::Borrowed(ctx),
            },
        };
        let model = ctx.model.as_deref().unwrap_or_default();
        match self.models.verdict(&self.listed_as, model, &today()) {
            Verdict::Use => {}
            Verdict::Warn(why) => {
                tracing::warn!("{why}");
                if let Some(f) = &self.on_warning {
                    f(&why);
                }
            }
            Verdict::Refuse(why) => {
                return Err(Error::new(ErrorKind::NotFound, &self.listed_as, why));
            }
        }
        Ok(ctx)
    }

    fn ticket(&self, ctx: &RuntimeContext, stream: bool) -> Ticket {
        let model = ctx.model.clone().unwrap_or_default();
        Ticket {
            recorder: self.recorder.clone(),
            started: Instant::now(),
            at_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
            tenant: ctx.tenant.clone(),
            prices: self.models.get(&self.listed_as, &model).map(|m| m.prices),
            provider: self.listed_as.clone(),
            model,
            stream,
        }
    }
}

/// The hook for one kind of call (generate or stream): the ticket says which.
struct Recording<'m> {
    meter: &'m Meter,
    stream: bool,
}

impl Hook for Recording<'_> {
    type Ticket = Ticket;

    async fn enter(&self, _: &str, _: &Request, ctx: &RuntimeContext) -> concord::Result<Ticket> {
        Ok(self.meter.ticket(ctx, self.stream))
    }

    fn finish(t: Ticket, outcome: Outcome<'_>) {
        let (outcome, usage) = match outcome {
            Outcome::Answered(u) => ("ok".to_owned(), u.copied().unwrap_or_default()),
            Outcome::Failed(kind) => (kind.as_str().to_owned(), concord::Usage::default()),
            Outcome::Dropped => ("cancelled".to_owned(), concord::Usage::default()),
        };
        let cost = t
            .prices
            .as_ref()
            .and_then(|p| cost(&usage, p))
            .map(|c| c.total);
        if let Some(c) = cost.filter(|c| c.0 > 0) {
            // Spend by who and on what, for a metrics exporter (Prometheus at a server's
            // /metrics); picodollars, so the counter stays an exact integer.
            metrics::counter!(
                "concord_spend_picodollars_total",
                "tenant" => t.tenant.clone().unwrap_or_default(),
                "provider" => t.provider.clone(),
                "model" => t.model.clone()
            )
            .increment(c.0 as u64);
        }
        t.recorder.record(CallRecord {
            id: format!("{}-{:016x}", t.at_ms, rand_id()),
            at_ms: t.at_ms,
            tenant: t.tenant,
            provider: t.provider,
            model: t.model,
            stream: t.stream,
            outcome,
            latency_ms: t.started.elapsed().as_millis() as i64,
            usage,
            cost,
            prices: t.prices,
        });
    }
}

/// A record id's random part (ids must be unique across instances sharing a database).
fn rand_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

impl<P: Provider> Metered<P> {
    /// `inner` behind `models`, recording into `recorder`; filed in the model database under the
    /// provider's own name and using the `default` purpose (see the builder methods).
    pub fn new(inner: P, models: Arc<Models>, recorder: Recorder) -> Self {
        let listed_as = inner.name().to_owned();
        Self {
            inner,
            meter: Meter {
                models,
                recorder,
                listed_as,
                purpose: "default".into(),
                on_warning: None,
            },
        }
    }

    /// The name the model database files this provider under (a registered `main` of type `openai`
    /// is `openai` in the shipped snapshot).
    pub fn listed_as(mut self, name: impl Into<String>) -> Self {
        self.meter.listed_as = name.into();
        self
    }

    /// The purpose whose default model a call without one gets.
    pub fn purpose(mut self, purpose: impl Into<String>) -> Self {
        self.meter.purpose = purpose.into();
        self
    }

    /// What to do with a deprecation warning, besides logging it.
    pub fn on_warning(mut self, f: OnWarning) -> Self {
        self.meter.on_warning = Some(f);
        self
    }
}

impl<P: Provider> Provider for Metered<P> {
    concord::wrapped_identity!(inner);

    fn generate<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<Response>> {
        Box::pin(async move {
            let ctx = self.meter.resolve(ctx)?;
            let h = Recording {
                meter: &self.meter,
                stream: false,
            };
            hook::generate(&h, &self.inner, request, &ctx).await
        })
    }

    fn stream<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, concord::Result<EventStream>> {
        Box::pin(async move {
            let ctx = self.meter.resolve(ctx)?;
            let h = Recording {
                meter: &self.meter,
                stream: true,
            };
            hook::stream(&h, &self.inner, request, &ctx).await
        })
    }
}
