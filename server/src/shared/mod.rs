//! State several instances of `concord serve` share, through Redis (`[redis] url`;
//! docs/scale-out.md): tenants' rate limits (one GCRA schedule per tenant and limit in Redis,
//! admitted by one Lua script, one round trip); providers' requests per minute (a GCRA that
//! gives each call its slot, waited for up to `queue_timeout_ms`), tokens per minute (debited
//! with each call's usage) and calls in parallel (permits with leases an instance renews every
//! heartbeat, so a dead instance's permits come back within `lease_ms`), as the model database
//! sets them; tenants' budgets (`budgets.rs`) and users' runtimes (`runtimes.rs`); and word of
//! every edit to the model database or the tenants (pub/sub), so each instance re-reads at once
//! instead of at its next interval.
//!
//! When Redis does not answer (within `[redis] timeout_ms`), an instance does not wait on it
//! call after call, and neither admits everything nor refuses everything: it enforces its
//! *local share* of each limit — the limit divided by the number of instances it last knew to be
//! alive — and says so in `/health/ready` and `concord_shared_degraded`. For providers the
//! dispatcher enforces that share (`Registry::set_limit_share`). A heartbeat
//! (`heartbeat_ms`) checks Redis and counts the live instances; when Redis answers again the
//! shared schedules are used from the next call.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

mod budgets;
mod runtimes;

pub use budgets::SharedBudgets;
pub use runtimes::SharedRuntimes;

use crate::limits::{RateStore, Refusal, TenantLimits};
use crate::settings::RedisSection;
use crate::tenants::Tenant;
use crate::{Error, Result};

/// The pub/sub channel of edits: `models <instance>` or `tenants <instance>`.
const CHANGED: &str = "concord:changed";
/// The sorted set of live instances, scored by when each was last heard from (ms).
const INSTANCES: &str = "concord:instances";

/// A tenant's request and token schedules, admitted in one step with Redis's own clock (so
/// instances' clocks need not agree). Due times are microseconds; a minute's allowance may be
/// spent at once, then one unit per minute / limit — the same GCRA as `limits.rs`.
/// KEYS: requests key, tokens key. ARGV: requests per minute ('' for none), tokens per minute.
/// Returns {0, 0} admitted, {1, µs} refused by requests, {2, µs} refused by tokens.
const ADMIT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local minute = 60000000
if ARGV[2] ~= '' then
  local due = tonumber(redis.call('GET', KEYS[2]) or now)
  if due - now > minute then return {2, due - now - minute} end
end
if ARGV[1] ~= '' then
  local interval = math.floor(minute / tonumber(ARGV[1]))
  local due = math.max(tonumber(redis.call('GET', KEYS[1]) or now), now)
  local after = due + interval
  if after - now > minute then return {1, after - now - minute} end
  redis.call('SET', KEYS[1], string.format('%d', after), 'PX', math.floor((after - now) / 1000) + 1000)
end
return {0, 0}
";

/// Debits `ARGV[2]` tokens from a tenant's token schedule at `ARGV[1]` per minute.
const DEBIT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = 60000000 / tonumber(ARGV[1])
local due = math.max(tonumber(redis.call('GET', KEYS[1]) or now), now)
local after = due + math.floor(interval * tonumber(ARGV[2]))
redis.call('SET', KEYS[1], string.format('%d', after), 'PX', math.floor((after - now) / 1000) + 1000)
return 1
";

/// A provider's shared requests per minute: the slot this call gets, waited for when it is at
/// most ARGV[2] µs away. ARGV[1]: requests per minute. Returns {0, wait µs} or {1, wait µs}
/// (refused: that wait is too long).
const RESERVE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local minute = 60000000
local interval = math.floor(minute / tonumber(ARGV[1]))
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or now), now)
local wait = math.max(0, tat - (minute - interval) - now)
if wait > tonumber(ARGV[2]) then return {1, wait} end
local after = tat + interval
redis.call('SET', KEYS[1], string.format('%d', after), 'PX', math.floor((after - now) / 1000) + 1000)
return {0, wait}
";

/// A provider's call permits: a sorted set of permit ids scored by when their lease ends (ms).
/// ARGV: the limit, the lease (ms), this permit's id. Returns 1 when taken, else 0.
const ACQUIRE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
  return 1
end
return 0
";

/// Renews this instance's leases (call permits, budget reservations): KEYS[i] holds
/// ARGV[i + 1]; ARGV[1] the lease (ms). A key that lives longer (a budget's leases live as long
/// as its account) keeps its time to live.
const RENEW: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local keep = tonumber(ARGV[1]) * 2
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', now + tonumber(ARGV[1]), ARGV[i + 1])
  local ttl = redis.call('PTTL', key)
  if ttl >= 0 and ttl < keep then redis.call('PEXPIRE', key, keep) end
end
return #KEYS
";

/// The most settlements kept for Redis while it does not answer; past it they are dropped
/// (counted in `concord_shared_settlements_dropped`): the records still hold every call, and an
/// account opened afresh reads them.
const MAX_PENDING: usize = 100_000;

/// A budget reservation replaced by its cost, in Redis (queued while Redis does not answer).
pub(crate) struct Settlement {
    pub(crate) account: String,
    pub(crate) leases: String,
    /// The reservation ('' for a call admitted on the local share).
    pub(crate) id: String,
    pub(crate) cost: concord_models::Money,
}

/// A random id (hex) for an instance, a permit or a reservation.
pub(crate) fn random_id() -> String {
    let mut id = [0u8; 12];
    let _ = getrandom::getrandom(&mut id);
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// A client of the Redis `settings` name.
fn client(settings: &RedisSection, password: Option<String>) -> Result<redis::Client> {
    let url = settings
        .url
        .as_deref()
        .ok_or_else(|| Error::Startup("[redis] url is not set".into()))?;
    let mut info: redis::ConnectionInfo = redis::IntoConnectionInfo::into_connection_info(url)
        .map_err(|e| Error::Startup(format!("[redis] url: {}", redact(&e))))?;
    if let Some(p) = password {
        let settings = info.redis_settings().clone().set_password(p);
        info = info.set_redis_settings(settings);
    }
    redis::Client::open(info).map_err(|e| Error::Startup(format!("[redis] url: {}", redact(&e))))
}

/// Tells the running instances that `what` (`models` or `tenants`) was edited by a process that
/// is not one of them (`concord models …`, `concord tenants …`), so they re-read it now; the
/// number of instances that heard. `Err` says why not (they see it at their next interval).
pub async fn announce(
    settings: &RedisSection,
    password: Option<String>,
    what: &str,
) -> Result<usize> {
    let client = client(settings, password)?;
    let wait = Duration::from_millis(settings.timeout_ms.max(1)) * 5;
    let told = tokio::time::timeout(wait, async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PUBLISH")
            .arg(CHANGED)
            .arg(format!("{what} cli"))
            .query_async::<usize>(&mut conn)
            .await
    })
    .await
    .map_err(|_| Error::Startup("Redis did not answer in time".into()))?;
    told.map_err(|e| Error::Startup(redact(&e)))
}

/// How an instance stands with the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedState {
    /// Whether the shared schedules are in use (else the local share).
    pub shared: bool,
    /// The instances alive at the last heartbeat (this one included).
    pub instances: usize,
    /// Why Redis is not in use, when it is not.
    pub why: Option<String>,
}

/// This instance's link to Redis.
pub struct Shared {
    client: redis::Client,
    conn: ArcSwapOption<ConnectionManager>,
    id: String,
    live: AtomicUsize,
    up: AtomicBool,
    why: Mutex<Option<String>>,
    settings: RedisSection,
    admit: redis::Script,
    debit: redis::Script,
    reserve: redis::Script,
    acquire: redis::Script,
    renew: redis::Script,
    budget_reserve: redis::Script,
    budget_settle: redis::Script,
    /// The leases this instance holds and renews: id → the sorted set it is in (a provider's
    /// permits, a budget's reservations).
    held: Mutex<std::collections::HashMap<String, String>>,
    /// Settlements Redis has not taken yet, by (account, reservation id).
    pending: Mutex<std::collections::HashMap<(String, String), Settlement>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("id", &self.id)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

fn redact(e: &redis::RedisError) -> String {
    concord_models::store::redact(&e.to_string())
}

impl Shared {
    /// Redis at `settings.url` with `password`. A Redis that does not answer yet is no error:
    /// the instance starts on its local share and the heartbeat keeps trying. A malformed URL is.
    pub async fn connect(settings: &RedisSection, password: Option<String>) -> Result<Arc<Self>> {
        let client = client(settings, password)?;
        let shared = Arc::new(Self {
            client,
            conn: ArcSwapOption::empty(),
            id: random_id(),
            live: AtomicUsize::new(1),
            up: AtomicBool::new(false),
            why: Mutex::new(Some("not connected yet".into())),
            settings: settings.clone(),
            admit: redis::Script::new(ADMIT),
            debit: redis::Script::new(DEBIT),
            reserve: redis::Script::new(RESERVE),
            acquire: redis::Script::new(ACQUIRE),
            renew: redis::Script::new(RENEW),
            budget_reserve: redis::Script::new(budgets::RESERVE),
            budget_settle: redis::Script::new(budgets::SETTLE),
            held: Mutex::default(),
            pending: Mutex::default(),
        });
        shared.beat().await;
        Ok(shared)
    }

    /// This instance's id among the live ones.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where this instance stands.
    pub fn state(&self) -> SharedState {
        SharedState {
            shared: self.up.load(Ordering::Relaxed),
            instances: self.live.load(Ordering::Relaxed).max(1),
            why: self.why.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.settings.timeout_ms.max(1))
    }

    /// The connection, while Redis is answering.
    fn conn(&self) -> Option<ConnectionManager> {
        if !self.up.load(Ordering::Relaxed) {
            return None;
        }
        self.conn.load_full().map(|c| (*c).clone())
    }

    /// Redis failed: the local shares apply until a heartbeat finds it again.
    fn down(&self, why: String) {
        if self.up.swap(false, Ordering::Relaxed) {
            tracing::warn!(error = %why, instances = self.live.load(Ordering::Relaxed), "Redis does not answer: each limit falls back to this instance's share");
        }
        metrics::gauge!("concord_shared_degraded").set(1.0);
        *self.why.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
    }

    fn recovered(&self) {
        if !self.up.swap(true, Ordering::Relaxed) {
            tracing::info!("Redis answers: limits are shared again");
        }
        metrics::gauge!("concord_shared_degraded").set(0.0);
        *self.why.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// One heartbeat: connects if need be, says this instance is alive and counts the others.
    async fn beat(&self) {
        let conn = match self.conn.load_full() {
            Some(c) => (*c).clone(),
            None => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.timeout()))
                    .set_response_timeout(Some(self.timeout()))
                    .set_number_of_retries(1);
                match tokio::time::timeout(
                    self.timeout() * 2,
                    ConnectionManager::new_with_config(self.client.clone(), config),
                )
                .await
                {
                    Ok(Ok(c)) => {
                        self.conn.store(Some(Arc::new(c.clone())));
                        c
                    }
                    Ok(Err(e)) => return self.down(redact(&e)),
                    Err(_) => return self.down("connecting took too long".into()),
                }
            }
        };
        let mut conn = conn;
        let now = concord_models::date::now_ms();
        let stale = now - 5 * i64::try_from(self.settings.heartbeat_ms).unwrap_or(1000);
        let counted: redis::RedisResult<(i64, i64, usize)> = redis::pipe()
            .zadd(INSTANCES, &self.id, now)
            .zrembyscore(INSTANCES, "-inf", stale)
            .zcard(INSTANCES)
            .query_async(&mut conn)
            .await;
        match counted {
            Ok((_, _, n)) => {
                self.live.store(n.max(1), Ordering::Relaxed);
                metrics::gauge!("concord_instances_live").set(n as f64);
                self.recovered();
            }
            Err(e) => return self.down(redact(&e)),
        }
        let held: Vec<(String, String)> = self
            .held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(id, key)| (id.clone(), key.clone()))
            .collect();
        if !held.is_empty() {
            let mut call = self.renew.prepare_invoke();
            call.arg(self.settings.lease_ms);
            for (id, key) in &held {
                call.key(key).arg(id);
            }
            if let Err(e) = call.invoke_async::<i64>(&mut conn).await {
                return self.down(redact(&e));
            }
        }
        let pending: Vec<Settlement> =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()))
                .into_values()
                .collect();
        for s in pending {
            if let Err(e) = self.settle_now(&mut conn, &s).await {
                self.queue(s);
                return self.down(redact(&e));
            }
        }
    }

    /// Renews the lease `id` in `key` at every heartbeat until [`Shared::release`].
    fn hold(&self, id: &str, key: &str) {
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_owned(), key.to_owned());
    }

    /// Stops renewing the lease `id`.
    fn release(&self, id: &str) {
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    async fn settle_now(
        &self,
        conn: &mut ConnectionManager,
        s: &Settlement,
    ) -> redis::RedisResult<i64> {
        self.budget_settle
            .key(&s.account)
            .key(&s.leases)
            .arg(&s.id)
            .arg(s.cost.0)
            .invoke_async(conn)
            .await
    }

    /// Keeps `s` for the next heartbeat (calls admitted on the local share add up per account).
    fn queue(&self, s: Settlement) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let key = (s.account.clone(), s.id.clone());
        if let Some(p) = pending.get_mut(&key) {
            p.cost = concord_models::Money(p.cost.0.saturating_add(s.cost.0));
        } else if pending.len() < MAX_PENDING {
            pending.insert(key, s);
        } else {
            metrics::counter!("concord_shared_settlements_dropped").increment(1);
        }
    }

    /// Settles a budget reservation in Redis (in the background; queued if Redis does not take it).
    fn settle(self: &Arc<Self>, s: Settlement) {
        let Some(mut conn) = self.conn() else {
            return self.queue(s);
        };
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.settle_now(&mut conn, &s).await {
                this.down(redact(&e));
                this.queue(s);
            }
        });
    }

    /// The share of the model database's provider limits this instance's dispatchers enforce:
    /// the whole (1) while Redis holds the deployment's, else its part.
    fn share(&self) -> u32 {
        if self.up.load(Ordering::Relaxed) {
            1
        } else {
            u32::try_from(self.live.load(Ordering::Relaxed).max(1)).unwrap_or(u32::MAX)
        }
    }

    /// Makes `server` one of the instances: its tenants' rate limits go to Redis, its edits are
    /// announced, the others' edits re-read, and the heartbeat runs — until the returned tasks
    /// are aborted or the server is dropped.
    pub fn join(self: &Arc<Self>, server: &Arc<crate::Server>) -> Vec<tokio::task::JoinHandle<()>> {
        server
            .tenants
            .share_limits(Box::new(SharedRates::new(self.clone())));
        let records = crate::budget::Budgets::new(server.budgets.records().clone());
        server
            .budgets
            .share(Box::new(budgets::SharedBudgets::new(self.clone(), records)));
        server.users.share(Box::new(runtimes::SharedRuntimes::new(
            self.clone(),
            server.users.config().clone(),
        )));
        let every = Duration::from_millis(self.settings.heartbeat_ms.max(50));
        let this = Arc::downgrade(self);
        let at = Arc::downgrade(server);
        let heart = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut applied = 1;
            loop {
                tick.tick().await;
                let (Some(s), Some(server)) = (this.upgrade(), at.upgrade()) else {
                    return;
                };
                s.beat().await;
                // Redis gone (or back): the dispatchers take their part of the deployment's
                // provider limits (or the whole again, Redis holding the deployment's).
                let share = s.share();
                if share != applied {
                    server.registry.set_limit_share(share);
                    server.registry.apply_limits_from(&server.models);
                    applied = share;
                }
            }
        });
        let this = Arc::downgrade(self);
        let at = Arc::downgrade(server);
        let listen = tokio::spawn(async move {
            loop {
                let (Some(s), Some(server)) = (this.upgrade(), at.upgrade()) else {
                    return;
                };
                let client = s.client.clone();
                let id = s.id.clone();
                drop(s);
                if let Err(e) = listen(&client, &id, &server).await {
                    tracing::debug!(error = %redact(&e), "the edits channel closed; listening again");
                }
                drop(server);
                tokio::time::sleep(every).await;
            }
        });
        // Our own edits are told to the others.
        let tell = |what: &'static str| {
            let this = Arc::downgrade(self);
            move || {
                let Some(s) = this.upgrade() else { return };
                let Some(mut conn) = s.conn() else { return };
                let message = format!("{what} {}", s.id);
                tokio::spawn(async move {
                    let _: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                        .arg(CHANGED)
                        .arg(message)
                        .query_async(&mut conn)
                        .await;
                });
            }
        };
        server.models.on_change(tell("models"));
        server.tenants.on_change(tell("tenants"));
        vec![heart, listen]
    }
}

/// Re-reads on every edit another instance announces; everything once on (re)subscribing,
/// since what was said while not listening is lost.
async fn listen(
    client: &redis::Client,
    id: &str,
    server: &crate::Server,
) -> redis::RedisResult<()> {
    let (models, tenants) = (&server.models, &server.tenants);
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(CHANGED).await?;
    let _ = models.refresh().await;
    let _ = tenants.refresh().await;
    let mut messages = pubsub.on_message();
    while let Some(m) = messages.next().await {
        let text: String = m.get_payload()?;
        let (what, from) = text.split_once(' ').unwrap_or((&text, ""));
        if from == id {
            continue;
        }
        let done = match what {
            "models" => models.refresh().await.map_err(|e| e.to_string()).map(|()| {
                // The dispatchers take the providers' new limits now, not at their next check.
                server.registry.apply_limits_from(models);
            }),
            "tenants" => tenants.refresh().await.map_err(|e| e.to_string()),
            _ => Ok(()),
        };
        if let Err(e) = done {
            tracing::warn!(error = %e, "an edit announced by another instance could not be read");
        }
    }
    Ok(())
}

/// Tenants' rate limits in Redis, with this instance's share of each as the fallback.
pub struct SharedRates {
    shared: Arc<Shared>,
    local: TenantLimits,
}

impl SharedRates {
    /// Over `shared`.
    pub fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            local: TenantLimits::default(),
        }
    }
}

fn keys(tenant: &str) -> (String, String) {
    (
        format!("concord:rate:{tenant}:requests"),
        format!("concord:rate:{tenant}:tokens"),
    )
}

impl RateStore for SharedRates {
    fn admit<'a>(&'a self, tenant: &'a Tenant) -> BoxFuture<'a, std::result::Result<(), Refusal>> {
        Box::pin(async move {
            if tenant.rpm.is_none() && tenant.tpm.is_none() {
                return Ok(());
            }
            if let Some(mut conn) = self.shared.conn() {
                let (rk, tk) = keys(&tenant.name);
                let n = |v: Option<u64>| v.map_or(String::new(), |v| v.to_string());
                let answer: redis::RedisResult<(i64, i64)> = self
                    .shared
                    .admit
                    .key(rk)
                    .key(tk)
                    .arg(n(tenant.rpm))
                    .arg(n(tenant.tpm))
                    .invoke_async(&mut conn)
                    .await;
                match answer {
                    Ok((0, _)) => return Ok(()),
                    Ok((1, us)) => {
                        return Err(Refusal::Requests(Duration::from_micros(us.max(1) as u64)))
                    }
                    Ok((_, us)) => {
                        return Err(Refusal::Tokens(Duration::from_micros(us.max(1) as u64)))
                    }
                    Err(e) => self.shared.down(redact(&e)),
                }
            }
            let share = self.shared.state().instances as u64;
            self.local.admit_share(tenant, share)
        })
    }

    fn spent(&self, tenant: &str, tpm: Option<u64>, tokens: u64) {
        let Some(tpm) = tpm else { return };
        match self.shared.conn() {
            Some(mut conn) => {
                let shared = self.shared.clone();
                let key = keys(tenant).1;
                tokio::spawn(async move {
                    let done: redis::RedisResult<i64> = shared
                        .debit
                        .key(key)
                        .arg(tpm)
                        .arg(tokens)
                        .invoke_async(&mut conn)
                        .await;
                    if let Err(e) = done {
                        shared.down(redact(&e));
                    }
                });
            }
            None => {
                let share = self.shared.state().instances as u64;
                self.local.spent(tenant, Some((tpm / share).max(1)), tokens);
            }
        }
    }
}

/// A provider's calls held to the deployment's limits in Redis (the model database's requests
/// per minute, tokens per minute and calls in parallel for it), when Redis answers; when it
/// does not, nothing here and the dispatcher enforces this instance's share.
pub type SharedLimited<P> = concord_dispatch::hook::Hooked<ProviderHook, P>;

/// `inner`, the calls of `provider` held to `limits` (the model database's) through `shared`.
pub fn shared_limited<P: concord::Provider>(
    inner: P,
    shared: Arc<Shared>,
    provider: &str,
    limits: Option<&concord_models::ProviderLimits>,
) -> SharedLimited<P> {
    concord_dispatch::hook::Hooked {
        inner,
        hook: ProviderHook {
            shared,
            provider: provider.to_owned(),
            rpm: limits.and_then(|l| l.requests_per_minute),
            tpm: limits.and_then(|l| l.tokens_per_minute),
            parallel: limits.and_then(|l| l.max_parallel),
        },
    }
}

/// The deployment's limits of one provider, around each of its calls.
pub struct ProviderHook {
    shared: Arc<Shared>,
    provider: String,
    rpm: Option<u32>,
    tpm: Option<u32>,
    parallel: Option<u32>,
}

/// What a call holds against the deployment's limits of its provider.
pub struct Held {
    permit: Option<Permit>,
    /// The provider's token schedule and its tokens per minute, debited with what the call used.
    tokens: Option<(Arc<Shared>, String, u32)>,
}

/// A call permit, given back when the call ends (or, if this instance dies, when its lease does).
pub struct Permit {
    shared: Arc<Shared>,
    key: String,
    id: String,
}

fn refused(provider: &str, why: String, after: Duration) -> concord::Error {
    concord::Error::new(concord::ErrorKind::RateLimited, provider, why)
        .with_retry_after(Some(after))
}

impl ProviderHook {
    /// Waits (within the queue's `deadline`) until the deployment's token schedule of the
    /// provider has room, or refuses: `Some(key)` of the schedule to debit when the call ends,
    /// `None` when Redis failed (the dispatcher's share applies).
    async fn tokens(
        &self,
        conn: &mut ConnectionManager,
        tpm: u32,
        deadline: tokio::time::Instant,
        queue: Duration,
    ) -> concord::Result<Option<String>> {
        let key = format!("concord:provider:{}:tokens", self.provider);
        loop {
            let answer: redis::RedisResult<(i64, i64)> = self
                .shared
                .admit
                .key(&key) // the requests schedule, unused: no requests limit given
                .key(&key)
                .arg("")
                .arg(tpm)
                .invoke_async(conn)
                .await;
            let wait = match answer {
                Ok((0, _)) => return Ok(Some(key)),
                Ok((_, us)) => Duration::from_micros(us.max(1) as u64),
                Err(e) => {
                    self.shared.down(redact(&e));
                    return Ok(None);
                }
            };
            if tokio::time::Instant::now() + wait > deadline {
                return Err(refused(
                    &self.provider,
                    format!(
                        "the deployment's {tpm} tokens a minute to {} are spent: room comes in {} ms, past [redis] queue_timeout_ms ({} ms)",
                        self.provider,
                        wait.as_millis(),
                        queue.as_millis()
                    ),
                    wait,
                ));
            }
            tokio::time::sleep(wait).await;
        }
    }
}

impl concord_dispatch::hook::Hook for ProviderHook {
    type Ticket = Held;

    async fn enter(
        &self,
        _: &str,
        _: &concord::Request,
        _: &concord::RuntimeContext,
    ) -> concord::Result<Held> {
        let nothing = Held {
            permit: None,
            tokens: None,
        };
        if self.rpm.is_none() && self.tpm.is_none() && self.parallel.is_none() {
            return Ok(nothing);
        }
        let Some(mut conn) = self.shared.conn() else {
            return Ok(nothing);
        };
        let queue = Duration::from_millis(self.shared.settings.queue_timeout_ms);
        let deadline = tokio::time::Instant::now() + queue;
        if let Some(rpm) = self.rpm {
            let key = format!("concord:provider:{}:rate", self.provider);
            let answer: redis::RedisResult<(i64, i64)> = self
                .shared
                .reserve
                .key(key)
                .arg(rpm)
                .arg(queue.as_micros() as u64)
                .invoke_async(&mut conn)
                .await;
            match answer {
                Ok((0, wait)) if wait > 0 => {
                    tokio::time::sleep(Duration::from_micros(wait as u64)).await;
                }
                Ok((0, _)) => {}
                Ok((_, wait)) => {
                    let after = Duration::from_micros(wait.max(1) as u64);
                    return Err(refused(
                        &self.provider,
                        format!(
                            "the deployment's {rpm} requests a minute to {} are taken: the next slot is {} ms away, past [redis] queue_timeout_ms ({} ms)",
                            self.provider,
                            after.as_millis(),
                            queue.as_millis()
                        ),
                        after,
                    ));
                }
                Err(e) => {
                    self.shared.down(redact(&e));
                    return Ok(nothing);
                }
            }
        }
        let tokens = match self.tpm {
            None => None,
            Some(tpm) => match self.tokens(&mut conn, tpm, deadline, queue).await? {
                Some(key) => Some((self.shared.clone(), key, tpm)),
                None => return Ok(nothing),
            },
        };
        let Some(limit) = self.parallel else {
            return Ok(Held {
                permit: None,
                tokens,
            });
        };
        let key = format!("concord:provider:{}:permits", self.provider);
        let id = random_id();
        // Taken in turn by whoever asks first after one is given back: polled, since Redis
        // cannot wake a waiter on another instance without a connection held per call.
        let mut pause = Duration::from_millis(2);
        loop {
            let taken: redis::RedisResult<i64> = self
                .shared
                .acquire
                .key(&key)
                .arg(limit)
                .arg(self.shared.settings.lease_ms)
                .arg(&id)
                .invoke_async(&mut conn)
                .await;
            match taken {
                Ok(1) => {
                    self.shared.hold(&id, &key);
                    return Ok(Held {
                        permit: Some(Permit {
                            shared: self.shared.clone(),
                            key,
                            id,
                        }),
                        tokens,
                    });
                }
                Ok(_) => {}
                Err(e) => {
                    self.shared.down(redact(&e));
                    return Ok(Held {
                        permit: None,
                        tokens,
                    });
                }
            }
            if tokio::time::Instant::now() + pause > deadline {
                return Err(refused(
                    &self.provider,
                    format!(
                        "the deployment's {limit} calls in parallel to {} are all taken, and none came free within [redis] queue_timeout_ms ({} ms)",
                        self.provider,
                        queue.as_millis()
                    ),
                    pause,
                ));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    fn finish(held: Held, outcome: concord_dispatch::hook::Outcome<'_>) {
        if let (Some((shared, key, tpm)), concord_dispatch::hook::Outcome::Answered(Some(usage))) =
            (held.tokens, outcome)
        {
            let used = usage
                .total_tokens
                .unwrap_or(usage.input_tokens.unwrap_or(0) + usage.output_tokens.unwrap_or(0));
            if let (Some(mut conn), true) = (shared.conn(), used > 0) {
                tokio::spawn(async move {
                    let done: redis::RedisResult<i64> = shared
                        .debit
                        .key(key)
                        .arg(tpm)
                        .arg(used)
                        .invoke_async(&mut conn)
                        .await;
                    if let Err(e) = done {
                        shared.down(redact(&e));
                    }
                });
            }
        }
        let Some(p) = held.permit else { return };
        p.shared.release(&p.id);
        let Some(mut conn) = p.shared.conn() else {
            return;
        };
        tokio::spawn(async move {
            let _: redis::RedisResult<i64> = redis::cmd("ZREM")
                .arg(&p.key)
                .arg(&p.id)
                .query_async(&mut conn)
                .await;
        });
    }
}
