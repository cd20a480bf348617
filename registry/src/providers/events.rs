//! What the registry tells its subscribers (a `broadcast` channel) and its log.

use std::fmt;

use super::Source;

/// A change in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A provider was registered (its status follows as it initialises).
    ProviderRegistered {
        /// Its name.
        name: String,
        /// Where it came from.
        source: Source,
    },
    /// A provider was unregistered (calls that hold it finish).
    ProviderUnregistered {
        /// Its name.
        name: String,
    },
    /// A provider could not be built, started or checked.
    ProviderError {
        /// Its name.
        name: String,
        /// Why.
        message: String,
    },
    /// A health check changed a provider's health.
    HealthChanged {
        /// Its name.
        name: String,
        /// Whether it is healthy now.
        healthy: bool,
        /// What the check saw.
        detail: String,
    },
    /// The dispatcher's breaker took the provider out of rotation.
    BreakerOpened {
        /// Its name.
        name: String,
        /// Why.
        reason: String,
    },
    /// The breaker let calls flow again.
    BreakerClosed {
        /// Its name.
        name: String,
    },
}

impl Event {
    /// The event's stable name (`provider_registered`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::ProviderRegistered { .. } => "provider_registered",
            Event::ProviderUnregistered { .. } => "provider_unregistered",
            Event::ProviderError { .. } => "provider_error",
            Event::HealthChanged { .. } => "health_changed",
            Event::BreakerOpened { .. } => "breaker_opened",
            Event::BreakerClosed { .. } => "breaker_closed",
        }
    }

    /// The provider it concerns.
    pub fn provider(&self) -> &str {
        match self {
            Event::ProviderRegistered { name, .. }
            | Event::ProviderUnregistered { name }
            | Event::ProviderError { name, .. }
            | Event::HealthChanged { name, .. }
            | Event::BreakerOpened { name, .. }
            | Event::BreakerClosed { name } => name,
        }
    }

    /// Logs it with `tracing` (errors as warnings, the rest as info).
    pub(super) fn log(&self) {
        match self {
            Event::ProviderError { .. } | Event::BreakerOpened { .. } => {
                tracing::warn!(event = self.kind(), provider = self.provider(), "{self}")
            }
            Event::HealthChanged { healthy: false, .. } => {
                tracing::warn!(event = self.kind(), provider = self.provider(), "{self}")
            }
            _ => tracing::info!(event = self.kind(), provider = self.provider(), "{self}"),
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::ProviderRegistered { name, source } => {
                write!(f, "{name} registered (from {})", source.name())
            }
            Event::ProviderUnregistered { name } => write!(f, "{name} unregistered"),
            Event::ProviderError { name, message } => write!(f, "{name}: {message}"),
            Event::HealthChanged {
                name,
                healthy,
                detail,
            } => write!(
                f,
                "{name} is {}: {detail}",
                if *healthy { "healthy" } else { "unhealthy" }
            ),
            Event::BreakerOpened { name, reason } => write!(f, "{name}: breaker opened: {reason}"),
            Event::BreakerClosed { name } => write!(f, "{name}: breaker closed"),
        }
    }
}
