//! The one error type of the crate (contract B5): a `kind` callers match on, plus the context a
//! person needs to act on it. Messages are scrubbed of the call's credential before they are stored.

use std::fmt;
use std::time::Duration;

/// What went wrong, normalised across vendors (contract B5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// 400/422: the vendor rejected the request.
    InvalidRequest,
    /// 401: missing or wrong credential.
    Authentication,
    /// 403: the credential may not do this.
    PermissionDenied,
    /// 404: unknown model or path.
    NotFound,
    /// 413 or a prompt over the model's context window.
    ContextLengthExceeded,
    /// 429: slow down; see `retry_after`.
    RateLimited,
    /// 429 `insufficient_quota`: a billing problem, retrying will not help.
    QuotaExceeded,
    /// The vendor's content filter refused the prompt (Azure's HTTP 400 `content_filter`); a
    /// filtered *answer* is a finish reason, not an error.
    ContentFilter,
    /// 529/503: the vendor is overloaded.
    Overloaded,
    /// 500/502/504: the vendor failed.
    ServerError,
    /// 408, or no answer within the configured time.
    Timeout,
    /// The connection failed before a response arrived.
    Transport,
    /// The connection ended mid-stream without the vendor's terminal marker.
    StreamInterrupted,
    /// A body or frame that does not parse.
    MalformedResponse,
    /// The runtime context lacks something the call needs.
    MissingRuntimeContext,
    /// A setting given to build or call a provider cannot be used (a malformed timeout, an
    /// unusable base URL, an unreadable key file), named; found before anything is sent.
    InvalidConfig,
    /// The request uses a capability the provider does not have.
    Unsupported,
    /// The caller dropped the call.
    Cancelled,
    /// The provider is taken out of rotation for now (an open circuit breaker); `retry_after`
    /// says when it will be tried again.
    Unavailable,
}

impl ErrorKind {
    /// The snake_case name used on the wire of the CLI and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::Authentication => "authentication",
            Self::PermissionDenied => "permission_denied",
            Self::NotFound => "not_found",
            Self::ContextLengthExceeded => "context_length_exceeded",
            Self::RateLimited => "rate_limited",
            Self::QuotaExceeded => "quota_exceeded",
            Self::ContentFilter => "content_filter",
            Self::Overloaded => "overloaded",
            Self::ServerError => "server_error",
            Self::Timeout => "timeout",
            Self::Transport => "transport",
            Self::StreamInterrupted => "stream_interrupted",
            Self::MalformedResponse => "malformed_response",
            Self::MissingRuntimeContext => "missing_runtime_context",
            Self::InvalidConfig => "invalid_config",
            Self::Unsupported => "unsupported",
            Self::Cancelled => "cancelled",
            Self::Unavailable => "unavailable",
        }
    }

    /// Every kind.
    pub const ALL: [ErrorKind; 19] = [
        Self::InvalidRequest,
        Self::Authentication,
        Self::PermissionDenied,
        Self::NotFound,
        Self::ContextLengthExceeded,
        Self::RateLimited,
        Self::QuotaExceeded,
        Self::ContentFilter,
        Self::Overloaded,
        Self::ServerError,
        Self::Timeout,
        Self::Transport,
        Self::StreamInterrupted,
        Self::MalformedResponse,
        Self::MissingRuntimeContext,
        Self::InvalidConfig,
        Self::Unsupported,
        Self::Cancelled,
        Self::Unavailable,
    ];

    /// The kind named `name` ([`as_str`](Self::as_str)'s inverse). A server door writes the
    /// name of a kind its vendor format has no word for (`timeout`, `stream_interrupted`, …) in
    /// the error's code (OpenAI) or type (Anthropic), and concord's clients read it back: a
    /// caller behind `concord serve` gets the kind it would have got from the vendor itself.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Whether a call failing this way may succeed if repeated (the B5 table).
    pub fn default_retryable(self) -> bool {
        matches!(
            self,
            Self::RateLimited
                | Self::Overloaded
                | Self::ServerError
                | Self::Timeout
                | Self::Transport
                | Self::StreamInterrupted
                | Self::Unavailable
        )
    }

    /// The kind an HTTP status maps to when the body says nothing more specific.
    pub fn from_status(status: u16) -> Self {
        match status {
            400 | 422 => Self::InvalidRequest,
            401 => Self::Authentication,
            403 => Self::PermissionDenied,
            404 => Self::NotFound,
            408 => Self::Timeout,
            413 => Self::ContextLengthExceeded,
            429 => Self::RateLimited,
            503 | 529 => Self::Overloaded,
            500..=599 => Self::ServerError,
            _ => Self::InvalidRequest,
        }
    }
}

impl ErrorKind {
    /// The kind for a vendor error: the kind its body names (each adapter maps its vendor's own
    /// codes), refined by the HTTP status where the status is more precise, else the status's
    /// kind, else `fallback` (an in-stream error with no status and no code it knows).
    pub fn from_parts(named: Option<Self>, status: Option<u16>, fallback: Self) -> Self {
        match (named, status) {
            // OpenAI labels 401/403/404 `invalid_request_error` too: the status is more precise.
            (Some(Self::InvalidRequest), Some(s)) if s >= 400 && !matches!(s, 400 | 422) => {
                Self::from_status(s)
            }
            // Likewise `server_error` on a 503 means overloaded.
            (Some(Self::ServerError), Some(s)) if s >= 500 => Self::from_status(s),
            (Some(kind), _) => kind,
            (None, Some(s)) if s >= 400 => Self::from_status(s),
            (None, _) => fallback,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed call. Build one with [`Error::new`] and the `with_*` methods.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{provider}: {kind}{}: {message}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// The provider that raised it (`openai`, `anthropic`, …).
    pub provider: String,
    /// The HTTP status, when the vendor answered.
    pub status: Option<u16>,
    /// The vendor's message (or ours), with secrets removed.
    pub message: String,
    /// Whether repeating the call may succeed (`x-should-retry` overrides the kind's default).
    pub retryable: bool,
    /// How long the vendor asked us to wait, from any signal of contract A6.
    pub retry_after: Option<Duration>,
    /// The vendor's request id, for support tickets.
    pub request_id: Option<String>,
}

impl Error {
    /// An error of `kind` raised by `provider`, retryable per the kind's default.
    pub fn new(kind: ErrorKind, provider: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind,
            provider: provider.into(),
            status: None,
            message: message.into(),
            retryable: kind.default_retryable(),
            retry_after: None,
            request_id: None,
        }
    }

    /// A `missing_runtime_context` error naming the missing `field` and how to supply it.
    pub fn missing_context(provider: &str, field: &str, hint: &str) -> Self {
        Self::new(
            ErrorKind::MissingRuntimeContext,
            provider,
            format!("the runtime context has no {field}; {hint}"),
        )
    }

    /// An `unsupported` error naming the capability.
    pub fn unsupported(provider: &str, what: &str) -> Self {
        Self::new(
            ErrorKind::Unsupported,
            provider,
            format!("{provider} does not support {what}"),
        )
    }

    /// A `malformed_response` error.
    pub fn malformed(provider: &str, what: impl fmt::Display) -> Self {
        Self::new(ErrorKind::MalformedResponse, provider, what.to_string())
    }

    /// Sets the HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Sets `retry_after`.
    pub fn with_retry_after(mut self, after: Option<Duration>) -> Self {
        self.retry_after = after;
        self
    }

    /// Sets the vendor request id.
    pub fn with_request_id(mut self, id: Option<String>) -> Self {
        self.request_id = id;
        self
    }

    /// Overrides the retry decision (from `x-should-retry`).
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// Replaces every occurrence of `secret` in the message with `[REDACTED]`.
    pub fn scrub(mut self, secret: &str) -> Self {
        // Short "secrets" would redact ordinary words; real credentials are long.
        if secret.len() >= 4 && self.message.contains(secret) {
            self.message = self.message.replace(secret, "[REDACTED]");
        }
        self
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
