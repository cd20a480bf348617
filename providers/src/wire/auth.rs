//! The auth step: how a credential goes on the wire, applied at send time. The credential itself
//! comes with the call: a static key in the context, or a [`CredentialSource`] the caller created
//! (an OAuth token cache, say) and passes with the context like the HTTP client.

use std::fmt;

use futures_util::future::BoxFuture;

use crate::context::{Credential, CredentialKind};
use crate::error::Result;

/// Where a provider puts an API key. Bearer tokens (OAuth, Entra ID) always travel as
/// `Authorization: Bearer`, which every vendor concord speaks to accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <key>`: OpenAI, OpenRouter, OpenAI-compatible servers.
    Bearer,
    /// The key in a header of its own: `x-api-key` (Anthropic), `x-goog-api-key` (Gemini;
    /// never `?key=`, since URLs end up in logs), `api-key` (Azure).
    Header(&'static str),
}

impl Auth {
    /// The header (name, value) that carries `credential`.
    pub fn header(&self, credential: &Credential) -> (&'static str, String) {
        match (credential.kind(), self) {
            (CredentialKind::BearerToken, _) | (CredentialKind::ApiKey, Auth::Bearer) => {
                ("authorization", format!("Bearer {}", credential.expose()))
            }
            (CredentialKind::ApiKey, Auth::Header(name)) => (name, credential.expose().to_owned()),
        }
    }

    /// The header an API key travels in (`authorization` for bearer), for docs and mocks.
    pub fn key_header(&self) -> &'static str {
        match self {
            Auth::Bearer => "authorization",
            Auth::Header(name) => name,
        }
    }
}

/// Where a call's credential comes from when it is not a static key: an async source asked once
/// per call, with the call's HTTP client (token endpoints are called with the caller's pool and
/// TLS settings). Implementations cache and refresh as they see fit; the cache belongs to the
/// caller, who creates the source and passes it in [`RuntimeContext`](crate::RuntimeContext).
///
/// `Debug` must not print a secret.
pub trait CredentialSource: Send + Sync + fmt::Debug {
    /// A credential for one call of `provider` (the name goes into errors).
    fn credential<'a>(
        &'a self,
        provider: &'a str,
        client: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<Credential>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_go_where_the_vendor_wants_them_and_tokens_are_bearer() {
        let key = Credential::new("k-123");
        let token = Credential::bearer("t-456");
        assert_eq!(
            Auth::Bearer.header(&key),
            ("authorization", "Bearer k-123".to_owned())
        );
        assert_eq!(
            Auth::Header("api-key").header(&key),
            ("api-key", "k-123".to_owned())
        );
        assert_eq!(
            Auth::Header("api-key").header(&token),
            ("authorization", "Bearer t-456".to_owned())
        );
    }
}
