//! What a configuration can get wrong, all of it at once.

use std::fmt;

/// One problem of a configuration: the setting, where its value came from, what is wrong and what
/// a valid value looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The setting (`providers.azure.base_url`).
    pub setting: String,
    /// Where the value came from: `concord.toml:12`, `environment variable CONCORD_…`,
    /// `override`, or the file for a missing key.
    pub source: String,
    /// What is wrong (never the value of a secret).
    pub message: String,
    /// What a valid value looks like.
    pub expected: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.setting, self.source, self.message)?;
        if !self.expected.is_empty() {
            write!(f, "; expected {}", self.expected)?;
        }
        Ok(())
    }
}

/// Every problem a configuration has, found in one pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "{n} problem{} in the configuration:",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.0 {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}
