//! How a shipped provider is reached: one typed input ([`Connection`]) that the environment
//! ([`Connection::from_vars`]), command-line flags and a configuration section only fill in,
//! and one function from it to the provider and its context template
//! ([`Descriptor::connect`]). Every path — `concord chat`, the registry, the suite's live mode
//! — goes through it, so they cannot drift: one base-URL rule, one credential order per row,
//! the enterprise AI gateway honoured everywhere.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::setup::{
    vertex_base_url, AZURE_AUTHORITY_HOST, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET,
    AZURE_OPENAI_AD_TOKEN, AZURE_OPENAI_API_VERSION, GOOGLE_APPLICATION_CREDENTIALS,
    GOOGLE_CLOUD_LOCATION, GOOGLE_CLOUD_PROJECT,
};
use super::{Api, Descriptor, Setup};
use crate::context::{Credential, RuntimeContext};
use crate::env::EnvVar;
use crate::error::{Error, ErrorKind, Result};
use crate::http::HttpProvider;
use crate::wire::gateway::{self, Gateway, GatewayToken};
use crate::wire::CredentialSource;

/// Entra ID client credentials (Azure), for tokens fetched and cached as they expire.
#[derive(Clone)]
pub struct EntraClient {
    /// The tenant.
    pub tenant: String,
    /// The application (client) id.
    pub client_id: String,
    /// The client secret.
    pub secret: Credential,
    /// The authority tokens are asked from (sovereign clouds have their own).
    pub authority: Option<String>,
}

/// Everything needed to reach one shipped provider. Fields a row does not use are ignored.
#[derive(Clone, Default)]
pub struct Connection {
    /// Which of its APIs (its first when `None`).
    pub api: Option<Api>,
    /// The vendor's base URL (Vertex: built from `project` and `location` when `None`).
    pub base_url: Option<String>,
    /// The row's key: an API key (Vertex: an OAuth access token).
    pub key: Option<Credential>,
    /// Azure: a pre-acquired Entra ID token, used when there is no key.
    pub ad_token: Option<Credential>,
    /// Azure: Entra ID client credentials, used when there is neither key nor token.
    pub entra: Option<EntraClient>,
    /// Azure: an api-version, selecting the classic deployment API.
    pub api_version: Option<String>,
    /// Vertex: a service-account key file, used when there is no access token.
    pub service_account: Option<PathBuf>,
    /// Vertex: the Google Cloud project (default: the service account's).
    pub project: Option<String>,
    /// Vertex: the location (default `global`).
    pub location: Option<String>,
    /// How long a call waits for the vendor.
    pub timeout: Option<Duration>,
    /// The enterprise AI gateway the provider goes through, and its token.
    pub gateway: Option<(Gateway, GatewayToken)>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("api", &self.api)
            .field("base_url", &self.base_url)
            .field("key", &self.key.as_ref().map(|_| "[REDACTED]"))
            .field("api_version", &self.api_version)
            .field("project", &self.project)
            .field("location", &self.location)
            .field("timeout", &self.timeout)
            .field("gateway", &self.gateway.as_ref().map(|(g, _)| &g.base_url))
            .finish_non_exhaustive()
    }
}

fn invalid(provider: &str, message: String) -> Error {
    Error::new(ErrorKind::InvalidConfig, provider, message)
}

impl Connection {
    /// Everything `d`'s variables give (`lookup` answers them: the environment with defaults,
    /// or a caller's own source): its key, base URL, Azure's and Vertex's, the call timeout
    /// (`CONCORD_TIMEOUT_SECS`) and the enterprise gateway (`GENAI_PLATFORM_*`). Fails with
    /// `invalid_config` naming a variable whose value cannot be used.
    pub fn from_vars(d: &Descriptor, lookup: &dyn Fn(&EnvVar) -> Option<String>) -> Result<Self> {
        let get = |v: &EnvVar| lookup(v).filter(|s| !s.trim().is_empty());
        let mut c = Connection {
            base_url: get(&d.base_url),
            key: get(&d.key).map(Credential::new),
            ..Connection::default()
        };
        match d.setup {
            Setup::Plain => {}
            Setup::Azure => {
                c.api_version = get(&AZURE_OPENAI_API_VERSION);
                c.ad_token = get(&AZURE_OPENAI_AD_TOKEN).map(Credential::bearer);
                let entra =
                    [AZURE_TENANT_ID_VAR, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET].map(|v| get(&v));
                if entra.iter().any(Option::is_some) {
                    let absent: Vec<&str> =
                        [AZURE_TENANT_ID_VAR, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET]
                            .iter()
                            .zip(&entra)
                            .filter(|(_, v)| v.is_none())
                            .map(|(var, _)| var.name)
                            .collect();
                    if !absent.is_empty() && c.key.is_none() && c.ad_token.is_none() {
                        return Err(Error::missing_context(
                            d.name,
                            "credential",
                            &format!(
                                "Entra ID client credentials also need {}",
                                absent.join(" and ")
                            ),
                        ));
                    }
                    if let [Some(tenant), Some(client_id), Some(secret)] = entra {
                        c.entra = Some(EntraClient {
                            tenant,
                            client_id,
                            secret: Credential::new(secret),
                            authority: get(&AZURE_AUTHORITY_HOST),
                        });
                    }
                }
            }
            Setup::Vertex => {
                c.service_account = get(&GOOGLE_APPLICATION_CREDENTIALS).map(PathBuf::from);
                c.project = get(&GOOGLE_CLOUD_PROJECT);
                c.location = get(&GOOGLE_CLOUD_LOCATION);
            }
        }
        if let Some(secs) = get(&crate::env::CONCORD_TIMEOUT_SECS) {
            c.timeout = Some(parse_timeout(
                d.name,
                crate::env::CONCORD_TIMEOUT_SECS.name,
                &secs,
            )?);
        }
        c.gateway = gateway::from_vars(lookup)?;
        Ok(c)
    }

    /// [`Connection::from_vars`] over the process environment (with each variable's default).
    pub fn from_env(d: &Descriptor) -> Result<Self> {
        Self::from_vars(d, &|v| v.get_or_default())
    }
}

/// Whole seconds, as `name` (a variable, a flag, a key) gives them; `invalid_config` otherwise.
pub fn parse_timeout(provider: &str, name: &str, secs: &str) -> Result<Duration> {
    match secs.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(Duration::from_secs(n)),
        _ => Err(invalid(
            provider,
            format!("{name} must be a whole number of seconds above 0, got {secs:?}"),
        )),
    }
}

// The tenant variable under a name that does not read as the call's tenant.
use super::setup::AZURE_TENANT_ID as AZURE_TENANT_ID_VAR;

impl Descriptor {
    /// The one way from a [`Connection`] to this provider: the provider speaking its API (put
    /// behind the gateway when there is one) and the context template its calls start from —
    /// credential or credential source, base URL, api-version, timeout and `client`; the model
    /// and tenant are the call's. Fails before anything is sent: `invalid_config` for a base
    /// URL or file that cannot be used, `missing_runtime_context` naming every way to supply
    /// what is missing, `unsupported` for an API the row does not speak.
    pub fn connect(
        &self,
        c: &Connection,
        client: reqwest::Client,
    ) -> Result<(HttpProvider, RuntimeContext)> {
        let provider = self.provider(c.api)?;
        // Where to send comes before what to send it with (Vertex's address may come from its
        // service-account file, so it is resolved below).
        if c.base_url.is_none() && self.setup != Setup::Vertex {
            return Err(self.no_base_url());
        }
        let mut ctx = RuntimeContext::new().client(client);
        let mut file_project = None;
        let behind = c.gateway.is_some();
        // The vendor's credential, unless a gateway's token replaces it.
        if !behind {
            let (credential, project) = self.credential(c)?;
            file_project = project;
            ctx = match credential {
                Cred::Static(k) => {
                    ctx.credential = Some(k);
                    ctx
                }
                Cred::Source(s) => ctx.credential_source(s),
            };
        } else if self.setup == Setup::Vertex && c.project.is_none() && c.base_url.is_none() {
            // Behind a gateway the file is not read for its token, only for its project.
            if let Some(path) = &c.service_account {
                file_project = service_account(self, path)?.1;
            }
        }
        let base = match (&c.base_url, self.setup) {
            (Some(base), _) => base.clone(),
            (None, Setup::Vertex) => {
                let project = c.project.clone().or(file_project).ok_or_else(|| {
                    Error::missing_context(
                        self.name,
                        "base_url",
                        &format!(
                            "set {} (or {} with the full base URL)",
                            GOOGLE_CLOUD_PROJECT.name, self.base_url.name
                        ),
                    )
                })?;
                let location = c.location.as_deref().unwrap_or("global");
                vertex_base_url(&project, location)
            }
            (None, _) => return Err(self.no_base_url()),
        };
        crate::context::check_base_url(&base).map_err(|why| {
            invalid(
                self.name,
                format!(
                    "the base URL `{}` cannot be used ({why}); {} expects an absolute URL like {}",
                    base.split('?').next().unwrap_or_default(),
                    self.name,
                    self.endpoint.base_url_example()
                ),
            )
        })?;
        ctx = ctx.base_url(base);
        if let (Setup::Azure, Some(v)) = (self.setup, &c.api_version) {
            ctx = ctx.api_version(v.clone());
        }
        if let Some(t) = c.timeout {
            ctx = ctx.timeout(t);
        }
        match &c.gateway {
            Some((g, token)) => {
                let ctx = gateway::with_token(self.name, ctx, token.clone())?;
                Ok((provider.behind(g.clone()), ctx))
            }
            None => Ok((provider, ctx)),
        }
    }

    /// `missing_runtime_context` naming the base-URL variable (Azure's with its shape).
    fn no_base_url(&self) -> Error {
        let hint = match self.setup {
            Setup::Azure => format!(
                "set {} to https://{{resource}}.openai.azure.com",
                self.base_url.name
            ),
            _ => format!("set {}", self.base_url.name),
        };
        Error::missing_context(self.name, self.base_url.name, &hint)
    }

    /// The row's credential, in its order (and, from a service-account file, its project).
    fn credential(&self, c: &Connection) -> Result<(Cred, Option<String>)> {
        match self.setup {
            Setup::Plain => match &c.key {
                Some(k) => Ok((Cred::Static(k.clone()), None)),
                None => Err(Error::missing_context(
                    self.name,
                    self.key.name,
                    &format!("set {}", self.key.name),
                )),
            },
            Setup::Azure => match (&c.key, &c.ad_token, &c.entra) {
                (Some(k), _, _) | (None, Some(k), _) => Ok((Cred::Static(k.clone()), None)),
                (None, None, Some(e)) => Ok((entra_source(self, e)?, None)),
                (None, None, None) => Err(Error::missing_context(
                    self.name,
                    "credential",
                    &format!(
                        "set {}, or {}, or {}, {} and {}",
                        self.key.name,
                        AZURE_OPENAI_AD_TOKEN.name,
                        AZURE_TENANT_ID_VAR.name,
                        AZURE_CLIENT_ID.name,
                        AZURE_CLIENT_SECRET.name
                    ),
                )),
            },
            Setup::Vertex => match (&c.key, &c.service_account) {
                (Some(token), _) => Ok((Cred::Static(Credential::bearer(token.expose())), None)),
                (None, Some(path)) => service_account(self, path),
                (None, None) => Err(Error::missing_context(
                    self.name,
                    "credential",
                    &format!(
                        "set {} or {}",
                        self.key.name, GOOGLE_APPLICATION_CREDENTIALS.name
                    ),
                )),
            },
        }
    }
}

/// A credential as it goes into a context: given, or fetched and cached as it expires.
enum Cred {
    Static(Credential),
    // Only the `oauth` feature's sources make one.
    #[cfg_attr(not(feature = "oauth"), allow(dead_code))]
    Source(Arc<dyn CredentialSource>),
}

#[cfg(feature = "oauth")]
fn entra_source(_d: &Descriptor, e: &EntraClient) -> Result<Cred> {
    use crate::credentials::{AzureClientCredentials, TokenCache};
    let mut credentials = AzureClientCredentials::new(
        e.tenant.clone(),
        e.client_id.clone(),
        e.secret.expose().to_owned(),
    );
    if let Some(host) = &e.authority {
        credentials = credentials.authority_host(host.clone());
    }
    Ok(Cred::Source(Arc::new(TokenCache::new(credentials))))
}

#[cfg(not(feature = "oauth"))]
fn entra_source(d: &Descriptor, _: &EntraClient) -> Result<Cred> {
    Err(Error::unsupported(
        d.name,
        "Entra ID client credentials in this build (enable the `oauth` feature)",
    ))
}

/// A service-account file's token source and project (the file is read and its key checked
/// now, so a bad file fails at startup).
#[cfg(feature = "oauth")]
fn service_account(d: &Descriptor, path: &std::path::Path) -> Result<(Cred, Option<String>)> {
    use crate::credentials::{ServiceAccount, TokenCache};
    let account = ServiceAccount::from_file(d.name, path)?;
    let project = account.project_id.clone();
    Ok((Cred::Source(Arc::new(TokenCache::new(account))), project))
}

#[cfg(not(feature = "oauth"))]
fn service_account(d: &Descriptor, _: &std::path::Path) -> Result<(Cred, Option<String>)> {
    Err(Error::unsupported(
        d.name,
        "service-account files in this build (enable the `oauth` feature)",
    ))
}
