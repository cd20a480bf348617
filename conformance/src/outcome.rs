//! What a check can end as.

use std::time::Duration;

use serde::Serialize;

/// A check's result for one provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "message", rename_all = "snake_case")]
pub enum Outcome {
    /// The provider behaves as the contract says.
    Pass,
    /// It does not: what was expected and what was seen.
    Fail(String),
    /// Not applicable, with the reason (a declared missing capability, a missing key).
    Skip(String),
}

impl Outcome {
    /// The short label used in the matrix.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail(_) => "FAIL",
            Self::Skip(_) => "skip",
        }
    }
}

/// One cell of the matrix.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// The check id (`CTR-001`).
    pub check: &'static str,
    /// The provider name.
    pub provider: String,
    /// How it ended.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// How long it took.
    #[serde(skip)]
    pub duration: Duration,
}

/// A check failure in progress: `fail!` builds one, `?` propagates it.
pub type CheckResultOf<T = ()> = Result<T, Outcome>;

/// Fails the check with a formatted message.
#[macro_export]
macro_rules! fail {
    ($($arg:tt)*) => {
        return Err($crate::Outcome::Fail(format!($($arg)*)))
    };
}

/// Fails unless `left == right`, printing both.
#[macro_export]
macro_rules! expect_eq {
    ($what:expr, $left:expr, $right:expr) => {
        // `match` keeps temporaries in the arguments alive for the comparison.
        match (&$left, &$right) {
            (l, r) => {
                if l != r {
                    $crate::fail!("{}: expected {:?}, saw {:?}", $what, r, l);
                }
            }
        }
    };
}
