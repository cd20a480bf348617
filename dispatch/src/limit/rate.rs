//! Rates as schedules of reservations (GCRA, the generic cell rate algorithm, in its "virtual
//! scheduling" form): each call reserves the earliest start the rate allows, so calls that wait
//! start in arrival order, and the time until the next free slot is exact — which is what a
//! refusal's `retry_after` must say. [`Schedules`] keeps one per rule and key (a rate per
//! provider, per model, per tenant; in requests or in tokens).
//!
//! Written by hand: `governor` answers "may I go now, or when could I", but cannot reserve a
//! future slot for a FIFO queue, nor change its quota in place while calls wait.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use concord::RuntimeContext;

use crate::key::{KeyBy, Parts};

/// `requests` per `per`, all of which may come at once (the burst is the whole allowance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// How many.
    pub requests: u32,
    /// In how long.
    pub per: Duration,
}

impl Rate {
    /// `requests` per second.
    pub fn per_second(requests: u32) -> Self {
        Self {
            requests,
            per: Duration::from_secs(1),
        }
    }

    /// `requests` per minute.
    pub fn per_minute(requests: u32) -> Self {
        Self {
            requests,
            per: Duration::from_secs(60),
        }
    }

    /// The time one unit of the rate takes.
    fn interval(&self) -> Duration {
        self.per / self.requests.max(1)
    }
}

/// What a rate looks like, for errors and docs.
pub const RATE_EXPECTED: &str = "a rate like \"500/min\", \"10/s\" or \"1000/h\"";

impl std::str::FromStr for Rate {
    type Err = String;

    /// `500/min`, `10/s`, `1000/h` (also `sec`, `second`, `m`, `minute`, `hour`, and a count
    /// before the unit: `5/10s`).
    fn from_str(value: &str) -> Result<Self, String> {
        let bad = || format!("{value:?} is not {RATE_EXPECTED}");
        let (n, per) = value.trim().split_once('/').ok_or_else(bad)?;
        let requests: u32 = n.trim().parse().map_err(|_| bad())?;
        let per = per.trim();
        let unit_at = per.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let count: u64 = match &per[..unit_at] {
            "" => 1,
            digits => digits.parse().map_err(|_| bad())?,
        };
        let unit = match &per[unit_at..] {
            "ms" => Duration::from_millis(1),
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        Ok(Rate {
            requests,
            per: unit * u32::try_from(count).map_err(|_| bad())?,
        })
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = self.per.as_millis();
        match ms {
            1_000 => write!(f, "{}/s", self.requests),
            60_000 => write!(f, "{}/min", self.requests),
            3_600_000 => write!(f, "{}/h", self.requests),
            _ => write!(f, "{}/{ms}ms", self.requests),
        }
    }
}

impl serde::Serialize for Rate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl concord_settings::schemars::JsonSchema for Rate {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Rate".into()
    }

    fn json_schema(
        _: &mut concord_settings::schemars::SchemaGenerator,
    ) -> concord_settings::schemars::Schema {
        concord_settings::schemars::json_schema!({
            "type": "string",
            "x-type": "rate",
            "x-expected": RATE_EXPECTED,
        })
    }
}

/// The schedule for one key.
#[derive(Debug)]
pub(crate) struct Bucket {
    interval: Duration,
    /// How far ahead of "now" the schedule may run: the burst.
    tolerance: Duration,
    /// The theoretical arrival time of the next unit.
    tat: Instant,
}

impl Bucket {
    pub fn new(rate: Rate, now: Instant) -> Self {
        let mut b = Self {
            interval: Duration::ZERO,
            tolerance: Duration::ZERO,
            tat: now,
        };
        b.set_rate(rate);
        b
    }

    /// Changes the rate in place; reservations already made keep their times.
    pub fn set_rate(&mut self, rate: Rate) {
        self.interval = rate.interval();
        self.tolerance = self.interval * rate.requests.max(1).saturating_sub(1);
    }

    /// When `cost` units asked for at `now` could start.
    pub fn next_start(&self, now: Instant) -> Instant {
        let tat = self.tat.max(now);
        tat.checked_sub(self.tolerance).unwrap_or(now).max(now)
    }

    /// Reserves `cost` units for a call arriving at `now`; returns when it may start.
    pub fn reserve(&mut self, now: Instant, cost: u32) -> Instant {
        let start = self.next_start(now);
        self.tat = self.tat.max(start) + self.interval * cost.max(1);
        start
    }

    /// Corrects an estimate after the fact: `delta` more (or fewer) units than reserved.
    pub fn correct(&mut self, now: Instant, delta: i64) {
        let step = self.interval * delta.unsigned_abs().min(u32::MAX as u64) as u32;
        self.tat = if delta >= 0 {
            self.tat + step
        } else {
            self.tat.checked_sub(step).unwrap_or(now).max(now)
        };
    }
}

/// What a rule counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    /// Calls.
    Requests,
    /// Tokens (a call's estimate, corrected by its usage).
    Tokens,
}

/// One rate limit: `rate` of `unit` per key `by`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rule {
    pub rate: Rate,
    pub by: KeyBy,
    pub unit: Unit,
}

/// What one call reserved: per rule, its key and cost (to correct a token estimate later).
pub(crate) type Reserved = Vec<(usize, Parts, u32)>;

/// A schedule per rule and key. A limiter wraps one provider, so its keys leave the provider
/// out ([`Parts`]): a key by provider alone allocates nothing.
#[derive(Debug, Default)]
pub(crate) struct Schedules {
    rules: Vec<Rule>,
    /// Per rule, its schedules by key.
    buckets: Vec<HashMap<Parts, Bucket>>,
}

impl Schedules {
    pub fn new(rules: Vec<Rule>) -> Self {
        Self {
            buckets: rules.iter().map(|_| HashMap::new()).collect(),
            rules,
        }
    }

    /// New rules, applied from the next reservation: a rule kept at its place (same unit and
    /// key) changes its rate in place, so reservations made keep their times; the others start
    /// afresh.
    pub fn set_rules(&mut self, rules: Vec<Rule>) {
        let mut old = std::mem::take(&mut self.buckets).into_iter();
        for (i, rule) in rules.iter().enumerate() {
            let kept = self
                .rules
                .get(i)
                .is_some_and(|r| (r.by, r.unit) == (rule.by, rule.unit));
            let mut buckets = old.next().filter(|_| kept).unwrap_or_default();
            buckets.values_mut().for_each(|b| b.set_rate(rule.rate));
            self.buckets.push(buckets);
        }
        self.rules = rules;
    }

    /// When a call with `ctx` costing `tokens` could start, and what it would reserve: the
    /// latest of its rules' next free slots.
    pub fn plan(
        &mut self,
        ctx: &RuntimeContext,
        tokens: impl FnOnce() -> u32,
        now: Instant,
    ) -> (Instant, Reserved) {
        let mut start = now;
        let mut reserved = Vec::with_capacity(self.rules.len());
        let mut tokens = Some(tokens);
        let mut estimate = 0;
        for (i, rule) in self.rules.iter().enumerate() {
            let cost = match rule.unit {
                Unit::Requests => 1,
                Unit::Tokens => {
                    if let Some(f) = tokens.take() {
                        estimate = f();
                    }
                    estimate
                }
            };
            let key = rule.by.parts(ctx);
            let buckets = &mut self.buckets[i];
            let next = match buckets.get(&key) {
                Some(bucket) => bucket.next_start(now),
                None => {
                    buckets.insert(key.clone(), Bucket::new(rule.rate, now));
                    now
                }
            };
            start = start.max(next);
            reserved.push((i, key, cost));
        }
        (start, reserved)
    }

    /// Commits what [`Schedules::plan`] found.
    pub fn reserve(&mut self, reserved: &Reserved, now: Instant) {
        for (i, key, cost) in reserved {
            if let Some(bucket) = self.buckets[*i].get_mut(key) {
                bucket.reserve(now, *cost);
            }
        }
    }

    /// A call's real token count replaces its estimate in every token rule.
    pub fn correct_tokens(&mut self, reserved: &Reserved, tokens: u64, now: Instant) {
        for (i, key, estimate) in reserved {
            if self.rules.get(*i).map(|r| r.unit) != Some(Unit::Tokens) {
                continue;
            }
            // Rules changed since the call was admitted: its schedule is gone.
            if let Some(bucket) = self.buckets.get_mut(*i).and_then(|b| b.get_mut(key)) {
                bucket.correct(now, tokens as i64 - i64::from(*estimate));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_written_and_read_alike() {
        for (text, rate) in [
            ("500/min", Rate::per_minute(500)),
            ("10/s", Rate::per_second(10)),
            (
                "5/10s",
                Rate {
                    requests: 5,
                    per: Duration::from_secs(10),
                },
            ),
        ] {
            assert_eq!(text.parse::<Rate>().unwrap(), rate);
            assert_eq!(rate.to_string().parse::<Rate>().unwrap(), rate);
        }
        assert_eq!(Rate::per_minute(500).to_string(), "500/min");
        for bad in ["fast", "5", "5/", "x/s", "5/day"] {
            assert!(
                bad.parse::<Rate>().unwrap_err().contains("500/min"),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_burst_then_one_per_interval_in_order() {
        let t0 = Instant::now();
        let mut b = Bucket::new(
            Rate {
                requests: 3,
                per: Duration::from_secs(3),
            },
            t0,
        );
        let starts: Vec<Duration> = (0..6).map(|_| b.reserve(t0, 1) - t0).collect();
        let secs: Vec<u64> = starts.iter().map(|d| d.as_secs()).collect();
        assert_eq!(secs, [0, 0, 0, 1, 2, 3]);
        assert_eq!(b.next_start(t0) - t0, Duration::from_secs(4));
        // Time passing refills the allowance.
        let later = t0 + Duration::from_secs(100);
        assert_eq!(b.next_start(later), later);
    }

    #[test]
    fn rates_change_in_place_and_estimates_are_corrected() {
        let t0 = Instant::now();
        let mut b = Bucket::new(Rate::per_second(1), t0);
        b.reserve(t0, 1);
        assert_eq!(b.next_start(t0) - t0, Duration::from_secs(1));
        b.set_rate(Rate::per_second(10));
        b.reserve(t0, 1);
        b.correct(t0, -5);
        assert_eq!(
            b.next_start(t0),
            t0,
            "a smaller real cost gives the slot back"
        );
        b.correct(t0, 20);
        assert_eq!(b.next_start(t0) - t0, Duration::from_millis(1700));
    }
}
