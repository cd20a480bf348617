//! Retrying as a small layer around any [`Provider`] (not inside adapters): only retryable
//! errors, exponential backoff with jitter (via `backon`), the vendor's `retry_after` honoured up
//! to a cap, and never once a stream has produced its first event.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use futures_util::future::BoxFuture;

use concord::{Error, EventStream, Provider, Request, Response, Result, RuntimeContext};

/// When and how long to retry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 turns retrying off).
    pub max_retries: u32,
    /// The first backoff delay.
    pub min_delay: Duration,
    /// The longest backoff delay.
    pub max_delay: Duration,
    /// The longest `retry_after` we wait; a vendor asking for more ends the retries.
    pub retry_after_cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            retry_after_cap: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The policy with `max_retries` retries.
    pub fn with_max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// The delay before the next attempt after `err`, given backon's backoff `planned`;
    /// `None` means stop.
    pub fn delay_for(&self, err: &Error, planned: Option<Duration>) -> Option<Duration> {
        match err.retry_after {
            Some(asked) if asked > self.retry_after_cap => None,
            Some(asked) => planned.map(|_| asked),
            None => planned,
        }
    }

    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries as usize)
            .with_jitter()
    }

    /// Runs `attempt` until it succeeds, fails for good, or the attempts run out.
    pub async fn run<T, F, Fut>(&self, attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        attempt
            .retry(self.backoff())
            .sleep(tokio::time::sleep)
            .when(|e: &Error| e.retryable)
            .adjust(|e: &Error, planned| self.delay_for(e, planned))
            .notify(|e: &Error, after: Duration| {
                tracing::info!(provider = %e.provider, kind = %e.kind, after_ms = after.as_millis() as u64, "retrying");
            })
            .await
    }
}

/// A provider wrapped with a [`RetryPolicy`].
#[derive(Debug, Clone)]
pub struct Retry<P> {
    inner: P,
    policy: RetryPolicy,
}

impl<P: Provider> Retry<P> {
    /// Wraps `inner`.
    pub fn new(inner: P, policy: RetryPolicy) -> Self {
        Self { inner, policy }
    }

    /// The wrapped provider.
    pub fn inner(&self) -> &P {
        &self.inner
    }
}

impl<P: Provider> Provider for Retry<P> {
    concord::wrapped_identity!(inner);

    fn generate<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, Result<Response>> {
        Box::pin(self.policy.run(|| self.inner.generate(request, ctx)))
    }

    /// Retries only establishing the stream: once the vendor has accepted it and events flow,
    /// an error is the caller's to handle (a replaying retry is the dispatcher's job).
    fn stream<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, Result<EventStream>> {
        Box::pin(self.policy.run(|| self.inner.stream(request, ctx)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord::ErrorKind;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn quick() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            retry_after_cap: Duration::from_millis(50),
        }
    }

    async fn attempts_until(policy: RetryPolicy, errors: Vec<Error>) -> (u32, Result<()>) {
        let count = AtomicU32::new(0);
        let result = policy
            .run(|| {
                let n = count.fetch_add(1, Ordering::SeqCst) as usize;
                let outcome = errors.get(n).cloned().map_or(Ok(()), Err);
                async move { outcome }
            })
            .await;
        (count.load(Ordering::SeqCst), result)
    }

    fn err(kind: ErrorKind) -> Error {
        Error::new(kind, "test", "x")
    }

    #[tokio::test]
    async fn retries_retryable_kinds_until_success() {
        let (n, r) = attempts_until(
            quick(),
            vec![err(ErrorKind::RateLimited), err(ErrorKind::Overloaded)],
        )
        .await;
        assert_eq!(n, 3);
        assert!(r.is_ok());
    }

    #[tokio::test]
    async fn never_retries_a_bad_request() {
        let (n, r) = attempts_until(quick(), vec![err(ErrorKind::InvalidRequest)]).await;
        assert_eq!(n, 1);
        assert_eq!(r.unwrap_err().kind, ErrorKind::InvalidRequest);
    }

    #[tokio::test]
    async fn stops_after_max_retries() {
        let errors = vec![err(ErrorKind::ServerError); 10];
        let (n, r) = attempts_until(quick(), errors).await;
        assert_eq!(n, 4, "one attempt plus three retries");
        assert!(r.is_err());
    }

    #[tokio::test]
    async fn x_should_retry_false_wins_over_the_kind() {
        let (n, _) = attempts_until(
            quick(),
            vec![err(ErrorKind::ServerError).with_retryable(false)],
        )
        .await;
        assert_eq!(n, 1);
    }

    #[tokio::test]
    async fn retry_after_over_the_cap_stops() {
        let e = err(ErrorKind::RateLimited).with_retry_after(Some(Duration::from_secs(30)));
        let (n, r) = attempts_until(quick(), vec![e]).await;
        assert_eq!(n, 1);
        assert_eq!(r.unwrap_err().retry_after, Some(Duration::from_secs(30)));
    }

    #[test]
    fn retry_after_within_the_cap_replaces_the_backoff() {
        let e = err(ErrorKind::RateLimited).with_retry_after(Some(Duration::from_millis(20)));
        let planned = Some(Duration::from_millis(1));
        assert_eq!(
            quick().delay_for(&e, planned),
            Some(Duration::from_millis(20))
        );
        assert_eq!(
            quick().delay_for(&e, None),
            None,
            "out of attempts stays out"
        );
    }
}
