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
    /// Answered with how many records are still held.
    Flush(oneshot::Sender<usize>),
}

/// The first wait before writing held records again, and the longest.
const RETRY_FIRST: std::time::Duration = std::time::Duration::from_secs(1);
const RETRY_MOST: std::time::Duration = std::time::Duration::from_secs(30);

/// The recorder's writer: what waits goes in one transaction (under load a commit covers many
/// calls, and a lone call is written at once); through an outage records are held, oldest
/// first, and retried.
async fn write(
    store: Arc<dyn Store>,
    mut rx: mpsc::Receiver<Message>,
    capacity: usize,
    dropped: Arc<std::sync::atomic::AtomicU64>,
) {
    let mut held: std::collections::VecDeque<CallRecord> = std::collections::VecDeque::new();
    let mut wait = RETRY_FIRST;
    let mut flushes = Vec::new();
    loop {
        let first = if held.is_empty() {
            match rx.recv().await {
                Some(m) => Some(m),
                None => return,
            }
        } else {
            // Held records: wake to retry them even when nothing new arrives.
            match tokio::time::timeout(wait, rx.recv()).await {
                Ok(Some(m)) => Some(m),
                Ok(None) if held.is_empty() => return,
                Ok(None) | Err(_) => None,
            }
        };
        let mut next = first;
        let mut fresh = Vec::new();
        while let Some(m) = next.take() {
            match m {
                Message::Record(r) => fresh.push(*r),
                Message::Flush(done) => flushes.push(done),
            }
            if fresh.len() < Recorder::BATCH {
                next = rx.try_recv().ok();
            }
        }
        held.extend(fresh);
        let over = held.len().saturating_sub(capacity);
        if over > 0 {
            held.drain(..over);
            dropped.fetch_add(over as u64, std::sync::atomic::Ordering::Relaxed);
            tracing::error!(
                dropped = over,
                "the database has been away too long: the oldest held call records were dropped"
            );
        }
        while !held.is_empty() {
            let n = held.len().min(Recorder::BATCH);
            let batch: Vec<CallRecord> = held.iter().take(n).cloned().collect();
            if store.record_all(&batch).await.is_ok() {
                held.drain(..n);
                wait = RETRY_FIRST;
                continue;
            }
            // A database that does not answer a read either is away: hold everything and
            // retry later. One that answers is refusing a record of the batch, which holding
            // would not change: each alone, so one bad record does not take its batch with it.
            if let Err(e) = store.calls(i64::MAX).await {
                tracing::warn!(
                    held = held.len(),
                    retry_in_secs = wait.as_secs(),
                    error = %e,
                    "the database is not answering: holding the call records"
                );
                wait = (wait * 2).min(RETRY_MOST);
                break;
            }
            let mut refused = Vec::new();
            for (i, r) in batch.iter().enumerate() {
                if let Err(e) = store.record_all(std::slice::from_ref(r)).await {
                    refused.push((i, e));
                }
            }
            for (i, e) in &refused {
                tracing::error!(error = %e, call = %batch[*i].id, "the database refused a call record");
            }
            dropped.fetch_add(refused.len() as u64, std::sync::atomic::Ordering::Relaxed);
            held.drain(..n);
        }
        for done in flushes.drain(..) {
            let _ = done.send(held.len());
        }
    }
}

/// Writes call records in the background, in order, so a call never waits for the database.
///
/// Through a database outage the records are held and retried (every second at first, then
/// less often, up to every 30 s) until it answers again; what waits stays bounded: past
/// [`Recorder::CAPACITY`] records held and [`Recorder::CAPACITY`] queued, new ones are dropped,
/// counted ([`Recorder::dropped`], `concord_recorder_dropped_total`) and logged, never queued
/// without bound. A record the database refuses on its own (while others are written) is
/// logged and counted too.
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
        Self::with_capacity(store, Self::CAPACITY)
    }

    /// As [`new`](Self::new), holding at most `capacity` records queued and as many through an
    /// outage.
    pub fn with_capacity(store: Arc<dyn Store>, capacity: usize) -> Self {
        let (tx, rx) = mpsc::channel::<Message>(capacity.max(1));
        let dropped = Arc::new(std::sync::atomic::AtomicU64::new(0));
        tokio::spawn(write(store, rx, capacity.max(1), dropped.clone()));
        Self { tx, dropped }
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

    /// Waits until every record queued before this call has been tried: written, or held
    /// through an outage after one more attempt (a shutdown must not wait for a database that
    /// is gone). How many are still held: 0 when everything is written.
    pub async fn flush(&self) -> usize {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            return wait.await.unwrap_or(0);
        }
        0
    }

    /// Records dropped: the database was behind or away longer than the recorder holds, or
    /// refused them.
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
