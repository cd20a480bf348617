//! A token cache: a fetched access token is reused until shortly before it expires, and
//! refreshed once however many calls wait for it (the refresh holds the lock; the waiters find
//! the fresh token when they get it).

use std::fmt;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use tokio::sync::Mutex;

use crate::context::Credential;
use crate::error::Result;
use crate::wire::CredentialSource;

/// An access token and when it stops being valid.
#[derive(Clone)]
pub struct AccessToken {
    /// The bearer token.
    pub token: Credential,
    /// When the issuer says it expires.
    pub expires_at: Instant,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &self.token)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Where fresh tokens come from (a token endpoint); [`TokenCache`] decides when to ask.
pub trait TokenFetcher: Send + Sync + fmt::Debug {
    /// Asks the issuer for a new token, with the call's HTTP client.
    fn fetch<'a>(
        &'a self,
        provider: &'a str,
        client: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<AccessToken>>;
}

/// A [`CredentialSource`] that caches a [`TokenFetcher`]'s tokens. Create one per credential and
/// share it (in an `Arc`) across every context that uses the credential: the cache is the
/// caller's, never a provider's.
pub struct TokenCache<F> {
    fetcher: F,
    /// The token, and when it was fetched (its lifetime sets the refresh margin).
    current: Mutex<Option<(AccessToken, Instant)>>,
}

impl<F: fmt::Debug> fmt::Debug for TokenCache<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("fetcher", &self.fetcher)
            .finish_non_exhaustive()
    }
}

/// How long before expiry a token is replaced: a few minutes, or half its life for short ones.
fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 2).min(Duration::from_secs(300))
}

impl<F: TokenFetcher> TokenCache<F> {
    /// A cache in front of `fetcher`, empty until the first call.
    pub fn new(fetcher: F) -> Self {
        Self {
            fetcher,
            current: Mutex::new(None),
        }
    }

    /// A valid token: the cached one, or a fresh one fetched once for every waiting call.
    pub async fn token(&self, provider: &str, client: &reqwest::Client) -> Result<Credential> {
        let mut current = self.current.lock().await;
        let now = Instant::now();
        if let Some((t, fetched_at)) = current.as_ref() {
            let lifetime = t.expires_at.saturating_duration_since(*fetched_at);
            if now + refresh_margin(lifetime) < t.expires_at {
                return Ok(t.token.clone());
            }
        }
        let fresh = self.fetcher.fetch(provider, client).await?;
        let token = fresh.token.clone();
        *current = Some((fresh, now));
        Ok(token)
    }
}

impl<F: TokenFetcher> CredentialSource for TokenCache<F> {
    fn credential<'a>(
        &'a self,
        provider: &'a str,
        client: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<Credential>> {
        Box::pin(self.token(provider, client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[derive(Debug)]
    struct Counting {
        calls: AtomicUsize,
        life: Duration,
    }

    impl TokenFetcher for Counting {
        fn fetch<'a>(
            &'a self,
            _provider: &'a str,
            _client: &'a reqwest::Client,
        ) -> BoxFuture<'a, Result<AccessToken>> {
            Box::pin(async move {
                let n = self.calls.fetch_add(1, Ordering::SeqCst);
                // Slow, so that concurrent callers pile up behind the first refresh.
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok(AccessToken {
                    token: Credential::bearer(format!("token-{n}")),
                    expires_at: Instant::now() + self.life,
                })
            })
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_share_one_refresh() {
        let cache = Arc::new(TokenCache::new(Counting {
            calls: AtomicUsize::new(0),
            life: Duration::from_secs(3600),
        }));
        let client = reqwest::Client::new();
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let (cache, client) = (cache.clone(), client.clone());
                tokio::spawn(async move { cache.token("p", &client).await.unwrap() })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().expose(), "token-0");
        }
        assert_eq!(cache.fetcher.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_token_near_expiry_is_replaced() {
        let cache = TokenCache::new(Counting {
            calls: AtomicUsize::new(0),
            life: Duration::from_millis(200),
        });
        let client = reqwest::Client::new();
        assert_eq!(cache.token("p", &client).await.unwrap().expose(), "token-0");
        assert_eq!(cache.token("p", &client).await.unwrap().expose(), "token-0");
        // Past half its life, a short-lived token is refreshed.
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(cache.token("p", &client).await.unwrap().expose(), "token-1");
        assert!(format!("{cache:?}").contains("Counting"));
        assert!(!format!("{cache:?}").contains("token-1"));
    }

    #[test]
    fn margins() {
        assert_eq!(
            refresh_margin(Duration::from_secs(3600)),
            Duration::from_secs(300)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(60)),
            Duration::from_secs(30)
        );
    }
}
