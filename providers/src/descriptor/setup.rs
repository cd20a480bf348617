//! How a provider's credential and base URL come from the environment: a key variable and a URL
//! variable for most; for Azure a key, an Entra ID token or Entra ID client credentials (and an
//! optional api-version); for Vertex a token or a service-account file, and a base URL built
//! from project and location.

#[cfg(feature = "oauth")]
use std::sync::Arc;

use super::{var, Descriptor};
use crate::context::{Credential, RuntimeContext};
use crate::env::EnvVar;
use crate::error::{Error, Result};

/// Which discovery a provider uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// The row's key variable and base-URL variable.
    Plain,
    /// Azure OpenAI: `AZURE_OPENAI_API_KEY`, else `AZURE_OPENAI_AD_TOKEN`, else Entra ID client
    /// credentials; `AZURE_OPENAI_API_VERSION` selects the classic deployment API.
    Azure,
    /// Vertex AI: `VERTEX_ACCESS_TOKEN`, else `GOOGLE_APPLICATION_CREDENTIALS`; the base URL
    /// from `VERTEX_BASE_URL`, else `GOOGLE_CLOUD_PROJECT` and `GOOGLE_CLOUD_LOCATION`.
    Vertex,
}

/// Azure's classic api-version.
pub const AZURE_OPENAI_API_VERSION: EnvVar = var("AZURE_OPENAI_API_VERSION", "string", None, "Azure OpenAI", "An api-version (`2024-10-21`) selects the classic `/openai/deployments/{deployment}/…?api-version=` API; unset, the v1 API.");
/// A pre-acquired Entra ID token.
pub const AZURE_OPENAI_AD_TOKEN: EnvVar = var(
    "AZURE_OPENAI_AD_TOKEN",
    "secret",
    None,
    "Azure OpenAI",
    "A pre-acquired Entra ID access token, sent as `Authorization: Bearer`.",
);
/// Entra ID tenant.
pub const AZURE_TENANT_ID: EnvVar = var("AZURE_TENANT_ID", "string", None, "Azure OpenAI", "Entra ID tenant for client-credentials tokens (with `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`).");
/// Entra ID application.
pub const AZURE_CLIENT_ID: EnvVar = var(
    "AZURE_CLIENT_ID",
    "string",
    None,
    "Azure OpenAI",
    "Entra ID application (client) id for client-credentials tokens.",
);
/// Entra ID application secret.
pub const AZURE_CLIENT_SECRET: EnvVar = var(
    "AZURE_CLIENT_SECRET",
    "secret",
    None,
    "Azure OpenAI",
    "Entra ID client secret for client-credentials tokens.",
);
/// Entra ID authority.
pub const AZURE_AUTHORITY_HOST: EnvVar = var(
    "AZURE_AUTHORITY_HOST",
    "url",
    Some("https://login.microsoftonline.com"),
    "Azure OpenAI",
    "The Entra ID authority tokens are asked from (sovereign clouds have their own).",
);
/// Google project.
pub const GOOGLE_CLOUD_PROJECT: EnvVar = var(
    "GOOGLE_CLOUD_PROJECT",
    "string",
    None,
    "Vertex AI",
    "The Google Cloud project for `--provider vertex` (default: the service account's).",
);
/// Google location.
pub const GOOGLE_CLOUD_LOCATION: EnvVar = var(
    "GOOGLE_CLOUD_LOCATION",
    "string",
    Some("global"),
    "Vertex AI",
    "The Vertex AI location (`global`, `us-central1`, …).",
);
/// A service-account key file.
pub const GOOGLE_APPLICATION_CREDENTIALS: EnvVar = var(
    "GOOGLE_APPLICATION_CREDENTIALS",
    "path",
    None,
    "Vertex AI",
    "A service-account key file; its tokens are fetched from its `token_uri` and cached.",
);

const AZURE_VARS: &[EnvVar] = &[
    AZURE_OPENAI_API_VERSION,
    AZURE_OPENAI_AD_TOKEN,
    AZURE_TENANT_ID,
    AZURE_CLIENT_ID,
    AZURE_CLIENT_SECRET,
    AZURE_AUTHORITY_HOST,
];
const VERTEX_VARS: &[EnvVar] = &[
    GOOGLE_CLOUD_PROJECT,
    GOOGLE_CLOUD_LOCATION,
    GOOGLE_APPLICATION_CREDENTIALS,
];

/// The Vertex base URL for a project and location (`global` has a host without a region).
pub fn vertex_base_url(project: &str, location: &str) -> String {
    let host = if location == "global" {
        "aiplatform.googleapis.com".to_owned()
    } else {
        format!("{location}-aiplatform.googleapis.com")
    };
    format!("https://{host}/v1/projects/{project}/locations/{location}")
}

impl Setup {
    /// The variables beyond the row's key, base URL and live model.
    pub fn vars(self) -> &'static [EnvVar] {
        match self {
            Setup::Plain => &[],
            Setup::Azure => AZURE_VARS,
            Setup::Vertex => VERTEX_VARS,
        }
    }

    /// A context with the credential (or its source), base URL and api-version the variables
    /// give; model and client are the caller's to add.
    /// `credentials: false` leaves the credential out (a gateway supplies its own).
    pub(super) fn context(
        self,
        d: &Descriptor,
        lookup: &dyn Fn(&EnvVar) -> Option<String>,
        credentials: bool,
    ) -> Result<RuntimeContext> {
        let missing = |what: &str, hint: String| Error::missing_context(d.name, what, &hint);
        let ctx = RuntimeContext::new();
        match self {
            Setup::Plain => {
                let base = lookup(&d.base_url)
                    .ok_or_else(|| missing(d.base_url.name, format!("set {}", d.base_url.name)))?;
                let ctx = ctx.base_url(base);
                if !credentials {
                    return Ok(ctx);
                }
                let key = lookup(&d.key)
                    .ok_or_else(|| missing(d.key.name, format!("set {}", d.key.name)))?;
                Ok(ctx.credential(key))
            }
            Setup::Azure => {
                let base = lookup(&d.base_url).ok_or_else(|| {
                    missing(
                        d.base_url.name,
                        format!(
                            "set {} to https://{{resource}}.openai.azure.com",
                            d.base_url.name
                        ),
                    )
                })?;
                let mut ctx = ctx.base_url(base);
                if credentials {
                    ctx = azure_credential(d, lookup, ctx)?;
                }
                if let Some(version) = lookup(&AZURE_OPENAI_API_VERSION) {
                    ctx = ctx.api_version(version);
                }
                Ok(ctx)
            }
            Setup::Vertex => vertex(d, lookup, ctx, credentials),
        }
    }
}

fn azure_credential(
    d: &Descriptor,
    lookup: &dyn Fn(&EnvVar) -> Option<String>,
    ctx: RuntimeContext,
) -> Result<RuntimeContext> {
    if let Some(key) = lookup(&d.key) {
        return Ok(ctx.credential(key));
    }
    if let Some(token) = lookup(&AZURE_OPENAI_AD_TOKEN) {
        let mut ctx = ctx;
        ctx.credential = Some(Credential::bearer(token));
        return Ok(ctx);
    }
    let entra = [AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET].map(|v| (v, lookup(&v)));
    if entra.iter().all(|(_, value)| value.is_none()) {
        return Err(Error::missing_context(
            d.name,
            "credential",
            &format!(
                "set {}, or {}, or {}, {} and {}",
                d.key.name,
                AZURE_OPENAI_AD_TOKEN.name,
                AZURE_TENANT_ID.name,
                AZURE_CLIENT_ID.name,
                AZURE_CLIENT_SECRET.name
            ),
        ));
    }
    let absent: Vec<&str> = entra
        .iter()
        .filter(|(_, value)| value.is_none())
        .map(|(v, _)| v.name)
        .collect();
    if !absent.is_empty() {
        return Err(Error::missing_context(
            d.name,
            "credential",
            &format!(
                "Entra ID client credentials also need {}",
                absent.join(" and ")
            ),
        ));
    }
    let [tenant, client, secret] = entra.map(|(_, value)| value.unwrap_or_default());
    azure_source(
        d,
        ctx,
        tenant,
        client,
        secret,
        lookup(&AZURE_AUTHORITY_HOST),
    )
}

#[cfg(feature = "oauth")]
fn azure_source(
    _d: &Descriptor,
    ctx: RuntimeContext,
    tenant: String,
    client: String,
    secret: String,
    authority: Option<String>,
) -> Result<RuntimeContext> {
    use crate::credentials::{AzureClientCredentials, TokenCache};
    let mut credentials = AzureClientCredentials::new(tenant, client, secret);
    if let Some(host) = authority {
        credentials = credentials.authority_host(host);
    }
    Ok(ctx.credential_source(Arc::new(TokenCache::new(credentials))))
}

#[cfg(not(feature = "oauth"))]
fn azure_source(
    d: &Descriptor,
    _ctx: RuntimeContext,
    _tenant: String,
    _client: String,
    _secret: String,
    _authority: Option<String>,
) -> Result<RuntimeContext> {
    Err(Error::unsupported(
        d.name,
        "Entra ID client credentials in this build (enable the `oauth` feature)",
    ))
}

fn vertex(
    d: &Descriptor,
    lookup: &dyn Fn(&EnvVar) -> Option<String>,
    ctx: RuntimeContext,
    credentials: bool,
) -> Result<RuntimeContext> {
    let token = lookup(&d.key);
    let file = lookup(&GOOGLE_APPLICATION_CREDENTIALS);
    let (mut ctx, file_project) = match (token, file) {
        _ if !credentials => (ctx, None),
        (Some(token), _) => {
            let mut ctx = ctx;
            ctx.credential = Some(Credential::bearer(token));
            (ctx, None)
        }
        (None, Some(path)) => vertex_source(d, ctx, &path)?,
        (None, None) => {
            return Err(Error::missing_context(
                d.name,
                "credential",
                &format!(
                    "set {} or {}",
                    d.key.name, GOOGLE_APPLICATION_CREDENTIALS.name
                ),
            ))
        }
    };
    let base = match lookup(&d.base_url) {
        Some(base) => base,
        None => {
            let project = lookup(&GOOGLE_CLOUD_PROJECT)
                .or(file_project)
                .ok_or_else(|| {
                    Error::missing_context(
                        d.name,
                        "base_url",
                        &format!(
                            "set {} (or {} with the full base URL)",
                            GOOGLE_CLOUD_PROJECT.name, d.base_url.name
                        ),
                    )
                })?;
            let location = lookup(&GOOGLE_CLOUD_LOCATION).unwrap_or_else(|| "global".to_owned());
            vertex_base_url(&project, &location)
        }
    };
    ctx = ctx.base_url(base);
    Ok(ctx)
}

#[cfg(feature = "oauth")]
fn vertex_source(
    d: &Descriptor,
    ctx: RuntimeContext,
    path: &str,
) -> Result<(RuntimeContext, Option<String>)> {
    use crate::credentials::{ServiceAccount, TokenCache};
    let account = ServiceAccount::from_file(d.name, std::path::Path::new(path))?;
    let project = account.project_id.clone();
    Ok((
        ctx.credential_source(Arc::new(TokenCache::new(account))),
        project,
    ))
}

#[cfg(not(feature = "oauth"))]
fn vertex_source(
    d: &Descriptor,
    _ctx: RuntimeContext,
    _path: &str,
) -> Result<(RuntimeContext, Option<String>)> {
    Err(Error::unsupported(
        d.name,
        "service-account files in this build (enable the `oauth` feature)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::env::lookup_in as lookup;

    impl Setup {
        fn context_test(
            self,
            d: &Descriptor,
            lookup: &dyn Fn(&EnvVar) -> Option<String>,
        ) -> Result<RuntimeContext> {
            self.context(d, lookup, true)
        }
    }

    fn azure() -> &'static Descriptor {
        super::super::get("azure").unwrap()
    }

    #[test]
    fn azure_takes_a_key_then_a_token_then_client_credentials() {
        let base = ("AZURE_OPENAI_ENDPOINT", "https://r.openai.azure.com");
        let ctx = Setup::Azure
            .context_test(
                azure(),
                &lookup(&[base, ("AZURE_OPENAI_API_KEY", "k-1234567")]),
            )
            .unwrap();
        assert_eq!(
            ctx.credential.unwrap().kind(),
            crate::CredentialKind::ApiKey
        );
        let ctx = Setup::Azure
            .context_test(
                azure(),
                &lookup(&[
                    base,
                    ("AZURE_OPENAI_AD_TOKEN", "t-1234567"),
                    ("AZURE_OPENAI_API_VERSION", "2024-10-21"),
                ]),
            )
            .unwrap();
        assert_eq!(
            ctx.credential.unwrap().kind(),
            crate::CredentialKind::BearerToken
        );
        assert_eq!(ctx.api_version.as_deref(), Some("2024-10-21"));
        let ctx = Setup::Azure
            .context_test(
                azure(),
                &lookup(&[
                    base,
                    ("AZURE_TENANT_ID", "t"),
                    ("AZURE_CLIENT_ID", "c"),
                    ("AZURE_CLIENT_SECRET", "s-SECRET"),
                ]),
            )
            .unwrap();
        assert!(ctx.credential.is_none() && ctx.credential_source.is_some());
        assert!(!format!("{ctx:?}").contains("SECRET"));
    }

    #[test]
    fn a_missing_azure_credential_names_every_variable_that_could_supply_it() {
        let base = ("AZURE_OPENAI_ENDPOINT", "https://r.openai.azure.com");
        let err = Setup::Azure
            .context_test(azure(), &lookup(&[base]))
            .unwrap_err();
        for name in [
            "AZURE_OPENAI_API_KEY",
            "AZURE_OPENAI_AD_TOKEN",
            "AZURE_TENANT_ID",
            "AZURE_CLIENT_ID",
            "AZURE_CLIENT_SECRET",
        ] {
            assert!(err.message.contains(name), "{name}: {err}");
        }
        let err = Setup::Azure
            .context_test(azure(), &lookup(&[base, ("AZURE_TENANT_ID", "t")]))
            .unwrap_err();
        assert!(
            err.message
                .contains("AZURE_CLIENT_ID and AZURE_CLIENT_SECRET"),
            "{err}"
        );
    }

    #[test]
    fn vertex_builds_its_base_from_project_and_location() {
        let vertex = super::super::get("vertex").unwrap();
        let ctx = Setup::Vertex
            .context_test(
                vertex,
                &lookup(&[
                    ("VERTEX_ACCESS_TOKEN", "ya29.token"),
                    ("GOOGLE_CLOUD_PROJECT", "p1"),
                    ("GOOGLE_CLOUD_LOCATION", "europe-west4"),
                ]),
            )
            .unwrap();
        assert_eq!(
            ctx.base_url.as_deref(),
            Some("https://europe-west4-aiplatform.googleapis.com/v1/projects/p1/locations/europe-west4")
        );
        assert_eq!(
            vertex_base_url("p1", "global"),
            "https://aiplatform.googleapis.com/v1/projects/p1/locations/global"
        );
        let err = Setup::Vertex
            .context_test(vertex, &lookup(&[("GOOGLE_CLOUD_PROJECT", "p1")]))
            .unwrap_err();
        assert!(
            err.message.contains("VERTEX_ACCESS_TOKEN")
                && err.message.contains("GOOGLE_APPLICATION_CREDENTIALS"),
            "{err}"
        );
    }
}
