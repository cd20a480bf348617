//! What the runtimes store measures idleness on: real time, or a clock a test moves by hand.

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Monotonic time since some origin.
pub trait Clock: Send + Sync + Debug {
    /// Now.
    fn now(&self) -> Duration;
}

/// Real time.
#[derive(Debug)]
pub struct SystemClock(Instant);

impl SystemClock {
    /// Starting now.
    pub fn new() -> Self {
        Self(Instant::now())
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

/// A clock that moves only when told (tests, the CTX checks). Clones share the time.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// At zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves time forward.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(
            by.as_nanos().min(u128::from(u64::MAX)) as u64,
            Ordering::AcqRel,
        );
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::Acquire))
    }
}
