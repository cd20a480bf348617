//! An enterprise AI gateway in front of a vendor: the vendor's bodies and paths, sent to the
//! gateway's base URL with the gateway's headers (the calling user, the project) and the
//! gateway's token instead of the vendor's auth. Any provider can be put behind one
//! ([`HttpProvider::behind`](crate::HttpProvider::behind)); Azure and Vertex are the usual cases.
//!
//! The gateway is configuration (addresses and header names); the token is the call's
//! credential (static, or from a credential source the caller owns) and the user is the call's
//! tenant, so nothing per-user lives in the provider.

use crate::context::ResolvedCall;
use crate::env::EnvVar;
use crate::error::{Error, ErrorKind, Result};

/// Where the gateway is and which headers it wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gateway {
    /// The gateway's base URL; the vendor's path (and query) is appended to it.
    pub base_url: String,
    /// The project name sent with every call.
    pub project: String,
    /// The header carrying the project.
    pub project_header: String,
    /// The header carrying the calling user (the call's tenant).
    pub user_header: String,
}

impl Gateway {
    /// The gateway's URL for a vendor URL: the gateway base plus the vendor URL's path and query
    /// (`https://{resource}.openai.azure.com/openai/v1/chat/completions` →
    /// `{gateway}/openai/v1/chat/completions`).
    pub fn url(&self, vendor_url: &str) -> String {
        let after_scheme = vendor_url.find("://").map_or(0, |i| i + 3);
        let path = vendor_url[after_scheme..]
            .find('/')
            .map_or("", |i| &vendor_url[after_scheme + i..]);
        format!("{}{path}", self.base_url.trim_end_matches('/'))
    }

    /// The gateway's own headers for a call; the calling user comes from the call's tenant, and
    /// a call without one fails before anything is sent.
    pub fn headers(&self, call: &ResolvedCall<'_>) -> Result<Vec<(String, String)>> {
        let user = call.tenant.filter(|t| !t.is_empty()).ok_or_else(|| {
            Error::missing_context(
                call.provider,
                "tenant",
                "the AI gateway needs the calling user: set RuntimeContext::tenant",
            )
        })?;
        Ok(vec![
            (self.project_header.clone(), self.project.clone()),
            (self.user_header.clone(), user.to_owned()),
        ])
    }
}

/// `GENAI_PLATFORM_ENABLED`: put providers behind the gateway.
pub const GENAI_PLATFORM_ENABLED: EnvVar = var("GENAI_PLATFORM_ENABLED", "bool", Some("false"), "Put Azure and Vertex (or any provider) behind the enterprise AI gateway; the other `GENAI_PLATFORM_*` variables are then required.");
/// The gateway's base URL.
pub const GENAI_PLATFORM_BASE_URL: EnvVar = var(
    "GENAI_PLATFORM_BASE_URL",
    "url",
    None,
    "The gateway's base URL; the vendor's path is appended to it.",
);
/// The project.
pub const GENAI_PLATFORM_PROJECT: EnvVar = var(
    "GENAI_PLATFORM_PROJECT",
    "string",
    None,
    "The project name the gateway bills and audits calls to.",
);
/// The project header.
pub const GENAI_PLATFORM_PROJECT_HEADER: EnvVar = var(
    "GENAI_PLATFORM_PROJECT_HEADER",
    "string",
    Some("x-genai-project"),
    "The header carrying the project name.",
);
/// The user header.
pub const GENAI_PLATFORM_USER_HEADER: EnvVar = var(
    "GENAI_PLATFORM_USER_HEADER",
    "string",
    Some("x-genai-user"),
    "The header carrying the calling user (the call's tenant; `concord chat --tenant`).",
);
/// A static gateway token.
pub const GENAI_PLATFORM_TOKEN: EnvVar = var(
    "GENAI_PLATFORM_TOKEN",
    "secret",
    None,
    "A gateway token, sent as `Authorization: Bearer` instead of the vendor's credential.",
);
/// The gateway's token endpoint.
pub const GENAI_PLATFORM_TOKEN_URL: EnvVar = var("GENAI_PLATFORM_TOKEN_URL", "url", None, "Without a token: the OAuth token endpoint that issues gateway tokens (client-credentials grant).");
/// The gateway client id.
pub const GENAI_PLATFORM_CLIENT_ID: EnvVar = var(
    "GENAI_PLATFORM_CLIENT_ID",
    "string",
    None,
    "The client id for the gateway's token endpoint.",
);
/// The gateway client secret.
pub const GENAI_PLATFORM_CLIENT_SECRET: EnvVar = var(
    "GENAI_PLATFORM_CLIENT_SECRET",
    "secret",
    None,
    "The client secret for the gateway's token endpoint.",
);
/// The scope of gateway tokens.
pub const GENAI_PLATFORM_SCOPE: EnvVar = var(
    "GENAI_PLATFORM_SCOPE",
    "string",
    None,
    "The scope asked for with gateway tokens, if the gateway wants one.",
);

const fn var(
    name: &'static str,
    ty: &'static str,
    default: Option<&'static str>,
    description: &'static str,
) -> EnvVar {
    EnvVar::new(name, ty, default, "AI gateway", description)
}

/// Every gateway variable, in documentation order.
pub const VARS: &[EnvVar] = &[
    GENAI_PLATFORM_ENABLED,
    GENAI_PLATFORM_BASE_URL,
    GENAI_PLATFORM_PROJECT,
    GENAI_PLATFORM_PROJECT_HEADER,
    GENAI_PLATFORM_USER_HEADER,
    GENAI_PLATFORM_TOKEN,
    GENAI_PLATFORM_TOKEN_URL,
    GENAI_PLATFORM_CLIENT_ID,
    GENAI_PLATFORM_CLIENT_SECRET,
    GENAI_PLATFORM_SCOPE,
];

/// How the gateway's token is obtained.
#[derive(Clone)]
pub enum GatewayToken {
    /// A token given as is.
    Static(crate::Credential),
    /// OAuth client credentials at a token endpoint.
    ClientCredentials {
        /// The token endpoint.
        token_url: String,
        /// The client id.
        client_id: String,
        /// The client secret.
        client_secret: crate::Credential,
        /// The scope, if any.
        scope: Option<String>,
    },
}

impl std::fmt::Debug for GatewayToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Static(_) => f.write_str("GatewayToken::Static([REDACTED])"),
            Self::ClientCredentials {
                token_url,
                client_id,
                ..
            } => f
                .debug_struct("GatewayToken::ClientCredentials")
                .field("token_url", token_url)
                .field("client_id", client_id)
                .finish_non_exhaustive(),
        }
    }
}

/// The gateway configuration from the variables: `None` when it is not enabled, an error naming
/// every missing or unusable variable when it is (all at once, at startup).
pub fn from_vars(
    lookup: &dyn Fn(&EnvVar) -> Option<String>,
) -> Result<Option<(Gateway, GatewayToken)>> {
    let enabled = lookup(&GENAI_PLATFORM_ENABLED).unwrap_or_default();
    match enabled.trim().to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" | "off" => return Ok(None),
        "1" | "true" | "yes" | "on" => {}
        other => {
            return Err(config_error(format!(
                "{} must be true or false, got {other:?}",
                GENAI_PLATFORM_ENABLED.name
            )))
        }
    }
    let mut problems = Vec::new();
    let mut need = |var: EnvVar| {
        let value = lookup(&var);
        if value.is_none() {
            problems.push(var.name.to_owned());
        }
        value.unwrap_or_default()
    };
    let base_url = need(GENAI_PLATFORM_BASE_URL);
    let project = need(GENAI_PLATFORM_PROJECT);
    let token = match lookup(&GENAI_PLATFORM_TOKEN) {
        Some(token) => Some(GatewayToken::Static(crate::Credential::bearer(token))),
        None => {
            let parts = [
                GENAI_PLATFORM_TOKEN_URL,
                GENAI_PLATFORM_CLIENT_ID,
                GENAI_PLATFORM_CLIENT_SECRET,
            ]
            .map(|v| (v.name, lookup(&v)));
            if parts.iter().all(|(_, v)| v.is_some()) {
                let [url, id, secret] = parts.map(|(_, v)| v.unwrap_or_default());
                Some(GatewayToken::ClientCredentials {
                    token_url: url,
                    client_id: id,
                    client_secret: crate::Credential::new(secret),
                    scope: lookup(&GENAI_PLATFORM_SCOPE),
                })
            } else {
                let absent: Vec<&str> = parts
                    .iter()
                    .filter(|(_, v)| v.is_none())
                    .map(|(n, _)| *n)
                    .collect();
                problems.push(format!(
                    "{} (or {})",
                    GENAI_PLATFORM_TOKEN.name,
                    absent.join(" + ")
                ));
                None
            }
        }
    };
    if !base_url.is_empty() && reqwest::Url::parse(&base_url).is_err() {
        problems.push(format!(
            "{} (not a URL: {base_url:?})",
            GENAI_PLATFORM_BASE_URL.name
        ));
    }
    if !problems.is_empty() {
        return Err(config_error(format!(
            "{} is on, but these are missing or unusable: {}",
            GENAI_PLATFORM_ENABLED.name,
            problems.join(", ")
        )));
    }
    let gateway = Gateway {
        base_url,
        project,
        project_header: lookup(&GENAI_PLATFORM_PROJECT_HEADER)
            .unwrap_or_else(|| "x-genai-project".to_owned()),
        user_header: lookup(&GENAI_PLATFORM_USER_HEADER)
            .unwrap_or_else(|| "x-genai-user".to_owned()),
    };
    Ok(Some((gateway, token.expect("checked above"))))
}

/// `ctx` with the gateway's token as its credential: the token itself, or a cached
/// client-credentials source (one per context: clones of the context share it).
pub fn with_token(
    provider: &str,
    ctx: crate::RuntimeContext,
    token: GatewayToken,
) -> Result<crate::RuntimeContext> {
    match token {
        GatewayToken::Static(token) => {
            let mut ctx = ctx;
            ctx.credential = Some(token);
            Ok(ctx)
        }
        #[cfg(feature = "oauth")]
        GatewayToken::ClientCredentials {
            token_url,
            client_id,
            client_secret,
            scope,
        } => {
            let _ = provider;
            let fetcher = crate::credentials::ClientCredentials::new(
                token_url,
                client_id,
                client_secret.expose(),
                scope,
            );
            Ok(
                ctx.credential_source(std::sync::Arc::new(crate::credentials::TokenCache::new(
                    fetcher,
                ))),
            )
        }
        #[cfg(not(feature = "oauth"))]
        GatewayToken::ClientCredentials { .. } => Err(Error::unsupported(
            provider,
            "gateway tokens from a token endpoint in this build (enable the `oauth` feature)",
        )),
    }
}

fn config_error(message: String) -> Error {
    Error::new(ErrorKind::MissingRuntimeContext, "gateway", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::env::lookup_in as lookup;

    #[test]
    fn the_gateway_takes_the_vendors_path() {
        let g = Gateway {
            base_url: "https://ai.corp.example/gw/".into(),
            project: "p".into(),
            project_header: "x-p".into(),
            user_header: "x-u".into(),
        };
        assert_eq!(
            g.url("https://r.openai.azure.com/openai/deployments/d/chat/completions?api-version=1"),
            "https://ai.corp.example/gw/openai/deployments/d/chat/completions?api-version=1"
        );
        assert_eq!(
            g.url("https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/l/publishers/google/models/m:generateContent"),
            "https://ai.corp.example/gw/v1/projects/p/locations/l/publishers/google/models/m:generateContent"
        );
    }

    #[test]
    fn off_unless_enabled_and_every_missing_field_named_at_once() {
        assert!(from_vars(&lookup(&[])).unwrap().is_none());
        assert!(from_vars(&lookup(&[("GENAI_PLATFORM_ENABLED", "false")]))
            .unwrap()
            .is_none());
        let err = from_vars(&lookup(&[("GENAI_PLATFORM_ENABLED", "true")])).unwrap_err();
        for name in [
            "GENAI_PLATFORM_BASE_URL",
            "GENAI_PLATFORM_PROJECT",
            "GENAI_PLATFORM_TOKEN",
            "GENAI_PLATFORM_TOKEN_URL",
            "GENAI_PLATFORM_CLIENT_ID",
            "GENAI_PLATFORM_CLIENT_SECRET",
        ] {
            assert!(err.message.contains(name), "{name}: {err}");
        }
        assert!(from_vars(&lookup(&[("GENAI_PLATFORM_ENABLED", "maybe")])).is_err());
        let (g, token) = from_vars(&lookup(&[
            ("GENAI_PLATFORM_ENABLED", "true"),
            ("GENAI_PLATFORM_BASE_URL", "https://gw"),
            ("GENAI_PLATFORM_PROJECT", "proj"),
            ("GENAI_PLATFORM_TOKEN", "gw-SECRET"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(g.user_header, "x-genai-user");
        assert!(!format!("{token:?}").contains("SECRET"));
    }
}
