//! A rate as a schedule of reservations (GCRA, the generic cell rate algorithm, in its
//! "virtual scheduling" form): each call reserves the earliest start the rate allows, so calls
//! that wait start in arrival order, and the time until the next free slot is exact — which is
//! what a refusal's `retry_after` must say.
//!
//! Written by hand: `governor` answers "may I go now, or when could I", but cannot reserve a
//! future slot for a FIFO queue, nor change its quota in place while calls wait.

use std::time::{Duration, Instant};

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

#[cfg(test)]
mod tests {
    use super::*;

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
