//! Tenants' budgets in Redis: one account per tenant and period (`concord:budget:<tenant>:<period
//! start ms>`, a hash of `spent`, `reserved` and each reservation `h:<id>`), so a call on any
//! instance is admitted only if its worst case fits beside every reservation on every instance.
//! A reservation has a lease, renewed by its instance's heartbeat like a call permit, so one
//! held by an instance that died is released by the next reservation after its lease.
//!
//! An account starts from the call records (`spent` since the period began) the first time any
//! instance reserves in it, and lives until a day after its period ends (30 days unused, for a
//! budget with no period; gone, it starts from the records again).
//!
//! Redis not answering: the instance reserves against its share of what the records say is
//! left (left ÷ live instances, [`Budgets::reserve_share`]), so the instances together stay
//! within the budget; what those calls cost is added to the Redis account when Redis answers
//! again (the settlements wait in [`Shared`]'s queue, as do any Redis could not take).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use concord::Error;
use concord_models::date::now_ms;
use concord_models::Money;
use futures_util::future::BoxFuture;

use super::{random_id, redact, Settlement, Shared};
use crate::budget::{period_bounds, spent_error, BudgetStore, Budgets, Reservation};
use crate::tenants::Budget;

/// Reserves ARGV[2] against ARGV[1] for call ARGV[3] with a lease of ARGV[4] ms.
/// KEYS: the account hash, its leases (a sorted set of reservation ids by lease end).
/// ARGV[5]: the account's time to live (ms); ARGV[6]: the period's spend in the records ('' when
/// not read yet). Returns {0, spent, reserved} reserved, {1, spent, reserved} refused, {2} the
/// account has to be opened from the records first.
///
/// Amounts are picodollars up to i64, past what a Lua number (a double) holds exactly: they are
/// kept as Redis integers (HINCRBY, exact) and compared here as decimal strings split at 10^9,
/// each part exact.
pub(super) const RESERVE: &str = r"
local function parts(s)
  local n = #s
  if n <= 9 then return 0, tonumber(s) end
  return tonumber(string.sub(s, 1, n - 9)), tonumber(string.sub(s, n - 8))
end
local function above(limit, a, b, c)
  local hi, lo = 0, 0
  for _, s in ipairs({a, b, c}) do
    local h, l = parts(s)
    hi = hi + h
    lo = lo + l
  end
  hi = hi + math.floor(lo / 1000000000)
  lo = lo % 1000000000
  local lh, ll = parts(limit)
  return hi > lh or (hi == lh and lo > ll)
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('HEXISTS', KEYS[1], 'spent') == 0 then
  if ARGV[6] == '' then return {2, '', ''} end
  redis.call('HSET', KEYS[1], 'spent', ARGV[6], 'reserved', '0')
end
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  local held = redis.call('HGET', KEYS[1], 'h:' .. dead)
  if held and held ~= '0' then redis.call('HINCRBY', KEYS[1], 'reserved', '-' .. held) end
  redis.call('HDEL', KEYS[1], 'h:' .. dead)
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local spent = redis.call('HGET', KEYS[1], 'spent')
local reserved = redis.call('HGET', KEYS[1], 'reserved') or '0'
if above(ARGV[1], spent, reserved, ARGV[2]) then return {1, spent, reserved} end
redis.call('HINCRBY', KEYS[1], 'reserved', ARGV[2])
redis.call('HSET', KEYS[1], 'h:' .. ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return {0, spent, reserved}
";

/// Replaces reservation ARGV[1] ('' for none: a call admitted while Redis was away) with its
/// cost ARGV[2]. KEYS as for [`RESERVE`]. An account that is gone is left alone: it starts from
/// the records, which hold the call, when next opened.
pub(super) const SETTLE: &str = r"
if redis.call('HEXISTS', KEYS[1], 'spent') == 0 then return 0 end
if ARGV[1] ~= '' then
  local held = redis.call('HGET', KEYS[1], 'h:' .. ARGV[1])
  if held then
    if held ~= '0' then redis.call('HINCRBY', KEYS[1], 'reserved', '-' .. held) end
    redis.call('HDEL', KEYS[1], 'h:' .. ARGV[1])
    redis.call('ZREM', KEYS[2], ARGV[1])
  end
end
redis.call('HINCRBY', KEYS[1], 'spent', ARGV[2])
return 1
";

/// The Redis key of `tenant`'s account for the period starting at `from` (ms; a budget with no
/// period starts at `i64::MIN`, kept as 0).
fn account_key(tenant: &str, from: i64) -> String {
    format!("concord:budget:{tenant}:{}", from.max(0))
}

/// How long an account with no period is kept unused.
const TOTAL_TTL_MS: i64 = 30 * 86_400_000;

/// Budgets held in Redis, with this instance's share as the fallback.
pub struct SharedBudgets {
    shared: Arc<Shared>,
    local: Budgets,
    /// Whether the last reservation went to the local share (so the local accounts are
    /// forgotten when Redis answers again, and read afresh at the next outage).
    local_used: AtomicBool,
}

impl SharedBudgets {
    /// Over `shared`, reading spend from `local`'s records when Redis does not answer.
    pub fn new(shared: Arc<Shared>, local: Budgets) -> Self {
        Self {
            shared,
            local,
            local_used: AtomicBool::new(false),
        }
    }

    async fn reserve_shared(
        &self,
        mut conn: redis::aio::ConnectionManager,
        tenant: &str,
        budget: Budget,
        most: Money,
    ) -> redis::RedisResult<Result<Reservation, Error>> {
        let now = now_ms();
        let (from, next) = period_bounds(budget.period, now);
        let account = account_key(tenant, from);
        let leases = format!("{account}:leases");
        let ttl = next.map_or(TOTAL_TTL_MS, |next| next - now + 86_400_000);
        let id = random_id();
        let mut opened = String::new();
        loop {
            let (answer, spent, reserved): (i64, String, String) = self
                .shared
                .budget_reserve
                .key(&account)
                .key(&leases)
                .arg(budget.limit.0)
                .arg(most.0)
                .arg(&id)
                .arg(self.shared.settings.lease_ms)
                .arg(ttl)
                .arg(&opened)
                .invoke_async(&mut conn)
                .await?;
            match answer {
                0 => break,
                2 if opened.is_empty() => {
                    let spent = match self.local.records().spent(tenant, from).await {
                        Ok(s) => s,
                        Err(e) => {
                            return Ok(Err(Error::new(
                                concord::ErrorKind::ServerError,
                                "concord",
                                format!("reading the tenant's spend: {e}"),
                            )))
                        }
                    };
                    opened = spent.0.to_string();
                }
                _ => {
                    let n = |s: &str| Money(s.parse().unwrap_or(0));
                    return Ok(Err(spent_error(
                        tenant,
                        budget,
                        n(&spent),
                        n(&reserved),
                        most,
                        budget.limit,
                        now,
                        next,
                    )));
                }
            }
        }
        self.shared.hold(&id, &leases);
        let shared = self.shared.clone();
        Ok(Ok(Reservation::new(move |cost: Money| {
            shared.release(&id);
            shared.settle(Settlement {
                account,
                leases,
                id,
                cost,
            });
        })))
    }
}

impl BudgetStore for SharedBudgets {
    fn reserve<'a>(
        &'a self,
        tenant: &'a str,
        budget: Budget,
        most: Money,
    ) -> BoxFuture<'a, Result<Reservation, Error>> {
        Box::pin(async move {
            if let Some(conn) = self.shared.conn() {
                match self.reserve_shared(conn, tenant, budget, most).await {
                    Ok(answer) => {
                        if self.local_used.swap(false, Ordering::Relaxed) {
                            self.local.forget();
                        }
                        return answer;
                    }
                    Err(e) => self.shared.down(redact(&e)),
                }
            }
            self.local_used.store(true, Ordering::Relaxed);
            let share = u32::try_from(self.shared.state().instances).unwrap_or(u32::MAX);
            let reservation = self
                .local
                .reserve_share(tenant, budget, most, share)
                .await?;
            // What the call costs reaches the Redis account when Redis answers again.
            let account = account_key(tenant, period_bounds(budget.period, now_ms()).0);
            let shared = self.shared.clone();
            Ok(Reservation::new(move |cost: Money| {
                reservation.settle(cost);
                if cost.0 > 0 {
                    shared.settle(Settlement {
                        leases: format!("{account}:leases"),
                        account,
                        id: String::new(),
                        cost,
                    });
                }
            }))
        })
    }
}
