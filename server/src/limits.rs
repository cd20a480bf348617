//! A tenant's own rate limits: requests per minute and tokens per minute, each a GCRA
//! schedule (the generic cell rate algorithm: a full minute's allowance may come at once, then
//! one unit every minute / limit). A request is counted when it is admitted; its tokens when it
//! ends, from the vendor's usage (they are not known before), so a tenant over its tokens is
//! refused until the minute has paid them back. A refusal says exactly when the next call would
//! be admitted. Kept per instance, in memory ([`TenantLimits`]); several instances share them
//! through Redis instead (`shared.rs`), both behind [`RateStore`].
//!
//! By hand rather than `governor`: the token schedule is debited after the fact by a count that
//! is only known then, which a "may I take n now" limiter does not do.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::tenants::Tenant;

/// What a minute is.
const MINUTE: Duration = Duration::from_secs(60);

/// One schedule: the theoretical time the next unit is due.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    due: Instant,
}

impl Schedule {
    /// The time one unit takes at `per_minute`.
    fn interval(per_minute: u64) -> Duration {
        MINUTE / u32::try_from(per_minute.max(1)).unwrap_or(u32::MAX)
    }

    /// Whether `units` more fit now: `Err` is how long until they would.
    fn admit(&mut self, now: Instant, per_minute: u64, units: u64) -> Result<(), Duration> {
        let t = Self::interval(per_minute);
        let due = self.due.max(now);
        let after = due + t * u32::try_from(units).unwrap_or(u32::MAX);
        // A minute's allowance may be spent at once.
        match after.checked_duration_since(now + MINUTE) {
            Some(over) if !over.is_zero() => Err(over),
            _ => {
                self.due = after;
                Ok(())
            }
        }
    }

    /// Whether the schedule is within its allowance (a debt a minute long or less).
    fn within(&self, now: Instant) -> Result<(), Duration> {
        match self.due.checked_duration_since(now + MINUTE) {
            Some(over) if !over.is_zero() => Err(over),
            _ => Ok(()),
        }
    }

    /// Counts `units` spent.
    fn debit(&mut self, now: Instant, per_minute: u64, units: u64) {
        let t = Self::interval(per_minute);
        self.due = self.due.max(now) + t * u32::try_from(units).unwrap_or(u32::MAX);
    }
}

/// Which limit refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Requests per minute: come back after this long.
    Requests(Duration),
    /// Tokens per minute: come back after this long.
    Tokens(Duration),
}

/// Where tenants' schedules are kept: in this process, or shared through Redis.
pub trait RateStore: Send + Sync {
    /// Admits one request of `tenant`, or says which limit refuses it and for how long.
    fn admit<'a>(
        &'a self,
        tenant: &'a Tenant,
    ) -> futures_util::future::BoxFuture<'a, Result<(), Refusal>>;
    /// Counts `tokens` spent by `tenant` (a call's usage, when it ends).
    fn spent(&self, tenant: &str, tpm: Option<u64>, tokens: u64);
}

impl RateStore for TenantLimits {
    fn admit<'a>(
        &'a self,
        tenant: &'a Tenant,
    ) -> futures_util::future::BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(std::future::ready(self.admit_share(tenant, 1)))
    }

    fn spent(&self, tenant: &str, tpm: Option<u64>, tokens: u64) {
        TenantLimits::spent(self, tenant, tpm, tokens);
    }
}

/// Every tenant's schedules in this process.
#[derive(Debug, Default)]
pub struct TenantLimits {
    schedules: Mutex<HashMap<String, (Schedule, Schedule)>>,
}

impl TenantLimits {
    /// Admits one request of `tenant` at `1 / share` of its limits (its share when `share`
    /// instances split them; at least one a minute), or says which limit refuses it and for
    /// how long.
    pub fn admit_share(&self, tenant: &Tenant, share: u64) -> Result<(), Refusal> {
        if tenant.rpm.is_none() && tenant.tpm.is_none() {
            return Ok(());
        }
        let share = share.max(1);
        let now = Instant::now();
        let mut all = self.schedules.lock().unwrap_or_else(|e| e.into_inner());
        let (requests, tokens) = all
            .entry(tenant.name.clone())
            .or_insert((Schedule { due: now }, Schedule { due: now }));
        if tenant.tpm.is_some() {
            tokens.within(now).map_err(Refusal::Tokens)?;
        }
        if let Some(rpm) = tenant.rpm {
            requests
                .admit(now, (rpm / share).max(1), 1)
                .map_err(Refusal::Requests)?;
        }
        Ok(())
    }

    /// Counts `tokens` spent by `tenant` (a call's usage, when it ends).
    pub fn spent(&self, tenant: &str, tpm: Option<u64>, tokens: u64) {
        let Some(tpm) = tpm else { return };
        let now = Instant::now();
        let mut all = self.schedules.lock().unwrap_or_else(|e| e.into_inner());
        let (_, schedule) = all
            .entry(tenant.to_owned())
            .or_insert((Schedule { due: now }, Schedule { due: now }));
        schedule.debit(now, tpm, tokens);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minutes_requests_come_at_once_then_one_per_interval() {
        let start = Instant::now();
        let mut s = Schedule { due: start };
        for _ in 0..3 {
            assert!(s.admit(start, 3, 1).is_ok());
        }
        let wait = s.admit(start, 3, 1).unwrap_err();
        assert_eq!(wait, Duration::from_secs(20), "3/min: one every 20 s");
        assert!(s.admit(start + Duration::from_secs(20), 3, 1).is_ok());
    }

    #[test]
    fn tokens_are_counted_after_and_refuse_until_paid_back() {
        let start = Instant::now();
        let mut s = Schedule { due: start };
        assert!(s.within(start).is_ok());
        // 1,000 a minute; a call spends 1,500: half a minute in debt past the allowance.
        s.debit(start, 1000, 1500);
        assert_eq!(s.within(start).unwrap_err(), Duration::from_secs(30));
        assert!(s.within(start + Duration::from_secs(30)).is_ok());
    }
}
