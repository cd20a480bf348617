//! The variables a provider's credential and base URL come from beyond its key and URL: for
//! Azure an Entra ID token or client credentials and an api-version; for Vertex a
//! service-account file, and a base URL built from project and location. `connection.rs` reads
//! them and builds the provider.

use super::var;
use crate::env::EnvVar;

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
}
