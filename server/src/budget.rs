//! Tenants' budgets, enforced exactly under concurrency: before a call starts, its largest
//! possible cost is reserved against the tenant's budget (refused when spent + reserved + it
//! would pass the limit); when it ends, the reservation is replaced by what it really cost.
//! So N calls at once can never spend more than the budget: each was admitted only if its
//! worst case fit beside every other's.
//!
//! The largest possible cost is the request's body length as input tokens (a token covers at
//! least one byte of text, so this bounds any tokenizer; an image's tokens are far fewer than
//! its base64 bytes) at the input price, plus the output limit at the output price (the
//! reasoning price when higher), at the above-threshold prices when the body is past the tier.
//!
//! A period's spend starts from the model database's call records (so a restart forgets
//! nothing) and is then kept in memory — or, with Redis (`[redis] url`), in Redis, where every
//! instance reserves against the same account (`shared/budgets.rs`, behind [`BudgetStore`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use concord::{Error, ErrorKind, Provider, Request, RuntimeContext};
use concord_dispatch::hook::{Hook, Hooked, Outcome};
use concord_models::date::{days, now_ms, ymd};
use concord_models::{cost, Money, Prices, Store};
use futures_util::future::BoxFuture;

use crate::tenants::{Budget, Period};

const DAY_MS: i64 = 86_400_000;

/// When the period holding `at_ms` started, and when the next one starts (`None`: never).
pub fn period_bounds(period: Period, at_ms: i64) -> (i64, Option<i64>) {
    let day = at_ms.div_euclid(DAY_MS);
    match period {
        Period::Total => (i64::MIN, None),
        Period::Day => (day * DAY_MS, Some((day + 1) * DAY_MS)),
        Period::Month => {
            let (y, m, _) = ymd(day);
            (days(y, m, 1) * DAY_MS, Some(days(y, m + 1, 1) * DAY_MS))
        }
    }
}

/// The largest cost a call can have (see the module's comment); `None` when the model has no
/// prices to bound it by.
pub fn max_cost(
    body_bytes: usize,
    max_output: Option<u32>,
    prices: Option<&Prices>,
) -> Option<Money> {
    let prices = prices?;
    let input = body_bytes as u64;
    let set = match prices.above {
        Some((threshold, above)) if input > threshold => above,
        _ => prices.base,
    };
    let output = u64::from(max_output.unwrap_or(crate::route::DEFAULT_MAX_OUTPUT));
    let out_price = set.reasoning.map_or(set.output, |r| r.max(set.output));
    set.input.times(input).checked_add(out_price.times(output))
}

struct Account {
    budget: Budget,
    /// The start of the period `spent` belongs to.
    from_ms: i64,
    /// What the records said was spent when the account was opened.
    base: i64,
    spent: i64,
    reserved: i64,
}

/// Where calls reserve against budgets: this process ([`Budgets`]) or Redis.
pub trait BudgetStore: Send + Sync {
    /// Reserves `most` of `tenant`'s `budget` for a call, or refuses it (`quota_exceeded`).
    fn reserve<'a>(
        &'a self,
        tenant: &'a str,
        budget: Budget,
        most: Money,
    ) -> BoxFuture<'a, Result<Reservation, Error>>;
}

/// The budgets of every tenant this instance has served.
pub struct Budgets {
    store: Arc<dyn Store>,
    accounts: Mutex<HashMap<String, Arc<Mutex<Account>>>>,
    /// Where reservations go instead of `accounts`, once set ([`Budgets::share`]).
    shared: OnceLock<Box<dyn BudgetStore>>,
}

impl std::fmt::Debug for Budgets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budgets").finish_non_exhaustive()
    }
}

/// What a tenant has spent and holds in reservations this period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// Settled spend.
    pub spent: Money,
    /// Held for calls in flight.
    pub reserved: Money,
}

impl Budgets {
    /// Budgets whose spend starts from `store`'s call records.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            accounts: Mutex::default(),
            shared: OnceLock::new(),
        }
    }

    /// Reservations go to `store` (Redis) from now on; set once.
    pub fn share(&self, store: Box<dyn BudgetStore>) {
        let _ = self.shared.set(store);
    }

    /// The records this instance reads a period's spend from.
    pub fn records(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Forgets every account, so the next call of each tenant reads its spend from the
    /// records again.
    pub fn forget(&self) {
        self.accounts.lock().expect("budgets").clear();
    }

    /// `tenant`'s account under `budget`, read from the records the first time.
    async fn account(&self, tenant: &str, budget: Budget) -> Result<Arc<Mutex<Account>>, Error> {
        if let Some(a) = self.accounts.lock().expect("budgets").get(tenant) {
            let a = a.clone();
            a.lock().expect("account").budget = budget;
            return Ok(a);
        }
        let (from_ms, _) = period_bounds(budget.period, now_ms());
        let spent = self.store.spent(tenant, from_ms).await.map_err(|e| {
            Error::new(
                ErrorKind::ServerError,
                "concord",
                format!("reading the tenant's spend: {e}"),
            )
        })?;
        let mut accounts = self.accounts.lock().expect("budgets");
        // Another call may have made it meanwhile; the first one stays.
        Ok(accounts
            .entry(tenant.to_owned())
            .or_insert_with(|| {
                Arc::new(Mutex::new(Account {
                    budget,
                    from_ms,
                    base: spent.0,
                    spent: spent.0,
                    reserved: 0,
                }))
            })
            .clone())
    }

    /// What `tenant` stands at now (for a listing or a test), if it has an account here.
    pub fn standing(&self, tenant: &str) -> Option<Standing> {
        let a = self.accounts.lock().expect("budgets").get(tenant)?.clone();
        let a = a.lock().expect("account");
        Some(Standing {
            spent: Money(a.spent),
            reserved: Money(a.reserved),
        })
    }

    /// Reserves `most` for a call of `tenant`, or refuses it (`quota_exceeded`, with when the
    /// period ends as `retry_after`): in Redis when shared, else here.
    pub async fn reserve(
        &self,
        tenant: &str,
        budget: Budget,
        most: Money,
    ) -> Result<Reservation, Error> {
        match self.shared.get() {
            Some(shared) => shared.reserve(tenant, budget, most).await,
            None => self.reserve_share(tenant, budget, most, 1).await,
        }
    }

    /// Reserves against this instance's `1/share` of what was left of the budget when the
    /// account was opened (the whole budget when `share` is 1): what an instance may spend on
    /// its own while it cannot reach the others.
    pub async fn reserve_share(
        &self,
        tenant: &str,
        budget: Budget,
        most: Money,
        share: u32,
    ) -> Result<Reservation, Error> {
        let account = self.account(tenant, budget).await?;
        {
            let mut a = account.lock().expect("account");
            let now = now_ms();
            let (from_ms, next) = period_bounds(a.budget.period, now);
            if from_ms > a.from_ms {
                // A new period: what was settled belonged to the last one.
                a.from_ms = from_ms;
                a.spent = 0;
                a.base = 0;
            }
            let limit = if share > 1 {
                a.base + (a.budget.limit.0 - a.base).max(0) / i64::from(share)
            } else {
                a.budget.limit.0
            };
            if a.spent.saturating_add(a.reserved).saturating_add(most.0) > limit {
                return Err(spent_error(
                    tenant,
                    a.budget,
                    Money(a.spent),
                    Money(a.reserved),
                    most,
                    Money(limit),
                    now,
                    next,
                ));
            }
            a.reserved += most.0;
        }
        let held = most.0;
        Ok(Reservation::new(move |cost: Money| {
            let mut a = account.lock().expect("account");
            a.reserved -= held;
            a.spent = a.spent.saturating_add(cost.0);
        }))
    }
}

/// The refusal of a call whose worst case does not fit in what is left of `budget`
/// (`limit` of it may be spent here), with when the period ends as `retry_after`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn spent_error(
    tenant: &str,
    budget: Budget,
    spent: Money,
    reserved: Money,
    most: Money,
    limit: Money,
    now: i64,
    next: Option<i64>,
) -> Error {
    let left = Money((limit.0 - spent.0 - reserved.0).max(0));
    let share = if limit == budget.limit {
        String::new()
    } else {
        format!(
            " (this instance's share while it cannot reach Redis: ${})",
            limit.dollars()
        )
    };
    let mut e = Error::new(
        ErrorKind::QuotaExceeded,
        "concord",
        format!(
            "the tenant {tenant}'s budget is spent: ${} of ${} per {} used or held{share}, ${} left, and this call could cost up to ${}",
            Money(spent.0.saturating_add(reserved.0)).dollars(),
            budget.limit.dollars(),
            budget.period.name(),
            left.dollars(),
            most.dollars()
        ),
    );
    if let Some(next) = next {
        e = e.with_retry_after(Some(Duration::from_millis((next - now).max(0) as u64)));
    }
    e
}

impl BudgetStore for Budgets {
    fn reserve<'a>(
        &'a self,
        tenant: &'a str,
        budget: Budget,
        most: Money,
    ) -> BoxFuture<'a, Result<Reservation, Error>> {
        Box::pin(self.reserve_share(tenant, budget, most, 1))
    }
}

/// A call's hold on its tenant's budget; settled once, with its real cost (or nothing).
pub struct Reservation(Box<dyn FnOnce(Money) + Send>);

impl Reservation {
    /// A hold that `settle` replaces with the call's cost.
    pub fn new(settle: impl FnOnce(Money) + Send + 'static) -> Self {
        Self(Box::new(settle))
    }

    /// Replaces the hold with what the call cost.
    pub fn settle(self, cost: Money) {
        (self.0)(cost);
    }
}

/// A provider whose calls are held to a tenant's budget (see the module's comment).
pub type Budgeted<P> = Hooked<BudgetHook, P>;

/// A call's reservation against its tenant's budget, settled at the model's prices.
pub struct BudgetHook {
    budgets: Arc<Budgets>,
    tenant: String,
    budget: Budget,
    most: Money,
    prices: Prices,
}

/// What a call holds: its reservation and the prices to settle it at.
pub struct Ticket {
    reservation: Reservation,
    prices: Prices,
}

/// `inner`, each call reserving `most` of `tenant`'s `budget` and settling at `prices`.
pub fn budgeted<P: Provider>(
    inner: P,
    budgets: Arc<Budgets>,
    tenant: &str,
    budget: Budget,
    most: Money,
    prices: Prices,
) -> Budgeted<P> {
    Hooked {
        inner,
        hook: BudgetHook {
            budgets,
            tenant: tenant.to_owned(),
            budget,
            most,
            prices,
        },
    }
}

impl Hook for BudgetHook {
    type Ticket = Ticket;

    async fn enter(&self, _: &str, _: &Request, _: &RuntimeContext) -> concord::Result<Ticket> {
        let reservation = self
            .budgets
            .reserve(&self.tenant, self.budget, self.most)
            .await?;
        Ok(Ticket {
            reservation,
            prices: self.prices,
        })
    }

    fn finish(t: Ticket, outcome: Outcome<'_>) {
        // What the vendor reported is what it bills; a call that failed or was dropped
        // before its usage came is settled at nothing (see docs/server.md on the gap).
        let spent = match outcome {
            Outcome::Answered(Some(usage)) => cost(usage, &t.prices).map_or(Money(0), |c| c.total),
            _ => Money(0),
        };
        t.reservation.settle(spent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_utc_calendar_days_and_months() {
        // 2026-12-07T05:00:00Z.
        let at = days(2026, 12, 7) * DAY_MS + 5 * 3_600_000;
        assert_eq!(
            period_bounds(Period::Day, at),
            (days(2026, 12, 7) * DAY_MS, Some(days(2026, 12, 8) * DAY_MS))
        );
        assert_eq!(
            period_bounds(Period::Month, at),
            (days(2026, 12, 1) * DAY_MS, Some(days(2027, 1, 1) * DAY_MS))
        );
        assert_eq!(period_bounds(Period::Total, at).1, None);
    }

    #[test]
    fn the_worst_case_bounds_any_call() {
        let p = Prices {
            base: concord_models::PriceSet {
                input: concord_models::Price::per_million("2").unwrap(),
                output: concord_models::Price::per_million("10").unwrap(),
                ..Default::default()
            },
            above: None,
        };
        // 1,000 bytes at $2/M + 500 output tokens at $10/M = 2,000 + 5,000 µ$.
        assert_eq!(
            max_cost(1000, Some(500), Some(&p)).map(|m| m.dollars()),
            Some("0.007".to_owned())
        );
        assert_eq!(max_cost(1000, Some(500), None), None);
    }
}
