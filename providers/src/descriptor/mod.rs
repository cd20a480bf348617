//! The providers this crate ships, one row each: name, the wire formats it speaks, its endpoint
//! and auth step, where its key, base URL and live-test model come from, and what it can do.
//! The CLI (`--provider`, `--api`, help), the environment registry and its docs, the conformance
//! suite's subjects and the mock vendors' routing all read this table. Adding a provider that
//! speaks an existing wire format is one row here and nothing else.

pub mod connection;
pub mod setup;

use std::sync::Arc;

pub use connection::{Connection, EntraClient};
pub use setup::Setup;

use crate::capabilities::Capabilities;
use crate::env::EnvVar;
use crate::error::{Error, ErrorKind, Result};
use crate::http::HttpProvider;
use crate::wire::{Auth, Endpoint, WireFormat};

/// A wire format a provider can speak, by its `--api` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// OpenAI Chat Completions (`chat`).
    Chat,
    /// OpenAI Responses (`responses`).
    Responses,
    /// Anthropic Messages (`messages`).
    Messages,
    /// Gemini `generateContent` (`generate-content`).
    GenerateContent,
}

impl Api {
    /// Every API, in documentation order.
    pub const ALL: [Api; 4] = [
        Api::Chat,
        Api::Responses,
        Api::Messages,
        Api::GenerateContent,
    ];

    /// The `--api` name.
    pub fn name(self) -> &'static str {
        match self {
            Api::Chat => "chat",
            Api::Responses => "responses",
            Api::Messages => "messages",
            Api::GenerateContent => "generate-content",
        }
    }

    /// The API named `name`.
    pub fn from_name(name: &str) -> Option<Api> {
        Api::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// One shipped provider.
#[derive(Debug, Clone, Copy)]
pub struct Descriptor {
    /// The name used on the command line, in errors and in reports (`openai`).
    pub name: &'static str,
    /// The vendor's name as people write it (`OpenAI`): the heading of its variables in the docs.
    pub title: &'static str,
    /// One line for `--help`.
    pub about: &'static str,
    /// The APIs it speaks; the first is the default.
    pub apis: &'static [Api],
    /// Builds the wire format for an API (`None`: the cargo feature for it is off).
    pub format: fn(Api) -> Option<Arc<dyn WireFormat>>,
    /// Where its operations live.
    pub endpoint: Endpoint,
    /// How an API key travels.
    pub auth: Auth,
    /// The variable holding its API key.
    pub key: EnvVar,
    /// The variable holding its base URL, with the vendor's public URL as default.
    pub base_url: EnvVar,
    /// The model `cargo xtask conformance --live` uses.
    pub live_model: EnvVar,
    /// What it supports.
    pub capabilities: Capabilities,
    /// The output-token limit a caller must send when the vendor requires one (Anthropic's
    /// `max_tokens`); the CLI uses it when `--max-tokens` is not given.
    pub required_max_tokens: Option<u32>,
    /// How the environment supplies its credential and base URL (a key and a URL for most;
    /// token sources for Azure and Vertex).
    pub setup: Setup,
}

/// An `EnvVar` row (the table's short name for [`EnvVar::new`]).
pub(super) const fn var(
    name: &'static str,
    ty: &'static str,
    default: Option<&'static str>,
    group: &'static str,
    description: &'static str,
) -> EnvVar {
    EnvVar::new(name, ty, default, group, description)
}

/// The formats of the OpenAI family: Chat Completions in `dialect`, and Responses.
macro_rules! openai_family {
    ($f:ident, $dialect:ident) => {
        fn $f(api: Api) -> Option<Arc<dyn WireFormat>> {
            match api {
                #[cfg(feature = "openai")]
                Api::Chat => Some(Arc::new(crate::openai::ChatCompletions::new(
                    crate::openai::Dialect::$dialect,
                ))),
                #[cfg(feature = "responses")]
                Api::Responses => Some(Arc::new(crate::responses::Responses::new())),
                _ => None,
            }
        }
    };
}
openai_family!(openai_format, OpenAi);
openai_family!(openrouter_format, OpenRouter);
openai_family!(compatible_format, Compatible);

fn anthropic_format(api: Api) -> Option<Arc<dyn WireFormat>> {
    match api {
        #[cfg(feature = "anthropic")]
        Api::Messages => Some(Arc::new(crate::anthropic::Messages::new())),
        _ => None,
    }
}

fn gemini_format(api: Api) -> Option<Arc<dyn WireFormat>> {
    match api {
        #[cfg(feature = "gemini")]
        Api::GenerateContent => Some(Arc::new(crate::gemini::GenerateContent::new())),
        _ => None,
    }
}

/// Every shipped provider, in documentation order.
pub static DESCRIPTORS: &[Descriptor] = &[
    Descriptor {
        name: "openai",
        title: "OpenAI",
        about: "OpenAI: Chat Completions (default) or Responses (--api responses)",
        apis: &[Api::Chat, Api::Responses],
        format: openai_format,
        endpoint: Endpoint::OpenAi,
        auth: Auth::Bearer,
        key: var("OPENAI_API_KEY", "secret", None, "OpenAI", "API key for `--provider openai`."),
        base_url: var("OPENAI_BASE_URL", "url", Some("https://api.openai.com/v1"), "OpenAI", "Base URL for `--provider openai`, including `/v1`."),
        live_model: var("CONCORD_LIVE_OPENAI_MODEL", "string", Some("gpt-4o-mini"), "OpenAI", "Model used by `cargo xtask conformance --live` for openai."),
        capabilities: Capabilities::ALL,
        required_max_tokens: None,
        setup: Setup::Plain,
    },
    Descriptor {
        name: "openrouter",
        title: "OpenRouter",
        about: "OpenRouter: Chat Completions with its `reasoning` object, or Responses",
        apis: &[Api::Chat, Api::Responses],
        format: openrouter_format,
        endpoint: Endpoint::OpenAi,
        auth: Auth::Bearer,
        key: var("OPENROUTER_API_KEY", "secret", None, "OpenRouter", "API key for `--provider openrouter`."),
        base_url: var("OPENROUTER_BASE_URL", "url", Some("https://openrouter.ai/api/v1"), "OpenRouter", "Base URL for `--provider openrouter`."),
        live_model: var("CONCORD_LIVE_OPENROUTER_MODEL", "string", Some("openai/gpt-4o-mini"), "OpenRouter", "Model used by `cargo xtask conformance --live` for openrouter."),
        capabilities: Capabilities::ALL,
        required_max_tokens: None,
        setup: Setup::Plain,
    },
    Descriptor {
        name: "openai-compatible",
        title: "OpenAI-compatible",
        about: "Any OpenAI-compatible server (vLLM, llama.cpp, LM Studio, DeepSeek, Groq, …); needs a base URL",
        apis: &[Api::Chat, Api::Responses],
        format: compatible_format,
        endpoint: Endpoint::OpenAi,
        auth: Auth::Bearer,
        key: var("OPENAI_COMPATIBLE_API_KEY", "secret", None, "OpenAI-compatible", "API key for `--provider openai-compatible` (DeepSeek, Groq, vLLM, …)."),
        base_url: var("OPENAI_COMPATIBLE_BASE_URL", "url", None, "OpenAI-compatible", "Base URL (with `/v1`) of the OpenAI-compatible server; required for `--provider openai-compatible`."),
        live_model: var("CONCORD_LIVE_OPENAI_COMPATIBLE_MODEL", "string", None, "OpenAI-compatible", "Model used by `cargo xtask conformance --live` for openai-compatible."),
        capabilities: Capabilities::ALL,
        required_max_tokens: None,
        setup: Setup::Plain,
    },
    Descriptor {
        name: "anthropic",
        title: "Anthropic",
        about: "Anthropic Messages",
        apis: &[Api::Messages],
        format: anthropic_format,
        endpoint: Endpoint::Anthropic,
        auth: Auth::Header("x-api-key"),
        key: var("ANTHROPIC_API_KEY", "secret", None, "Anthropic", "API key for `--provider anthropic`."),
        base_url: var("ANTHROPIC_BASE_URL", "url", Some("https://api.anthropic.com"), "Anthropic", "Base URL for `--provider anthropic` (host root; `/v1/messages` is added)."),
        live_model: var("CONCORD_LIVE_ANTHROPIC_MODEL", "string", Some("claude-haiku-4-5"), "Anthropic", "Model used by `cargo xtask conformance --live` for anthropic."),
        capabilities: Capabilities::ALL,
        required_max_tokens: Some(4096),
        setup: Setup::Plain,
    },
    Descriptor {
        name: "gemini",
        title: "Gemini",
        about: "Google Gemini API (generateContent)",
        apis: &[Api::GenerateContent],
        format: gemini_format,
        endpoint: Endpoint::GeminiApi,
        auth: Auth::Header("x-goog-api-key"),
        key: var("GEMINI_API_KEY", "secret", None, "Gemini", "API key for `--provider gemini`, sent as `x-goog-api-key`."),
        base_url: var("GEMINI_BASE_URL", "url", Some("https://generativelanguage.googleapis.com"), "Gemini", "Base URL for `--provider gemini` (host root; `/v1beta/models/…` is added)."),
        live_model: var("CONCORD_LIVE_GEMINI_MODEL", "string", Some("gemini-2.5-flash"), "Gemini", "Model used by `cargo xtask conformance --live` for gemini."),
        capabilities: Capabilities::ALL,
        required_max_tokens: None,
        setup: Setup::Plain,
    },
    Descriptor {
        name: "azure",
        title: "Azure OpenAI",
        about: "Azure OpenAI: Chat Completions (default) or Responses; key, Entra ID token or client credentials",
        apis: &[Api::Chat, Api::Responses],
        format: openai_format,
        endpoint: Endpoint::Azure,
        auth: Auth::Header("api-key"),
        key: var("AZURE_OPENAI_API_KEY", "secret", None, "Azure OpenAI", "API key for `--provider azure`, sent as `api-key`. Without it: `AZURE_OPENAI_AD_TOKEN`, then Entra ID client credentials."),
        base_url: var("AZURE_OPENAI_ENDPOINT", "url", None, "Azure OpenAI", "The resource root, `https://{resource}.openai.azure.com`; required for `--provider azure`."),
        live_model: var("CONCORD_LIVE_AZURE_MODEL", "string", None, "Azure OpenAI", "Deployment used by `cargo xtask conformance --live` for azure."),
        capabilities: Capabilities::ALL,
        required_max_tokens: None,
        setup: Setup::Azure,
    },
    Descriptor {
        name: "vertex",
        title: "Vertex AI",
        about: "Google Vertex AI (Gemini models); access token or service-account file",
        apis: &[Api::GenerateContent],
        format: gemini_format,
        endpoint: Endpoint::Vertex,
        auth: Auth::Bearer,
        key: var("VERTEX_ACCESS_TOKEN", "secret", None, "Vertex AI", "A pre-acquired OAuth access token for `--provider vertex`. Without it: the service account of `GOOGLE_APPLICATION_CREDENTIALS`."),
        base_url: var("VERTEX_BASE_URL", "url", None, "Vertex AI", "`https://{location}-aiplatform.googleapis.com/v1/projects/{project}/locations/{location}`; built from `GOOGLE_CLOUD_PROJECT` and `GOOGLE_CLOUD_LOCATION` when unset."),
        live_model: var("CONCORD_LIVE_VERTEX_MODEL", "string", Some("gemini-2.5-flash"), "Vertex AI", "Model used by `cargo xtask conformance --live` for vertex."),
        capabilities: Capabilities::ALL,
        required_max_tokens: None,
        setup: Setup::Vertex,
    },
];

/// The shipped provider named `name`.
pub fn get(name: &str) -> Option<&'static Descriptor> {
    DESCRIPTORS.iter().find(|d| d.name == name)
}

/// The shipped provider `name`, speaking its default API: `concord::builtin("anthropic")`.
/// Fails with `unsupported` for a name the table does not have (the message lists them).
pub fn builtin(name: &str) -> Result<HttpProvider> {
    match get(name) {
        Some(d) => d.provider(None),
        None => Err(Error::new(
            ErrorKind::Unsupported,
            name,
            format!(
                "no shipped provider is called `{name}`; known: {}",
                names().collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

/// The reference provider of a wire format: OpenAI for both of its APIs, Anthropic for
/// Messages, Gemini for generateContent (what the suite and the benches run each format as).
pub fn reference(api: Api) -> Result<HttpProvider> {
    let name = match api {
        Api::Chat | Api::Responses => "openai",
        Api::Messages => "anthropic",
        Api::GenerateContent => "gemini",
    };
    get(name).expect("a shipped row").provider(Some(api))
}

/// Every variable this crate reads, in documentation order: each shipped provider's, the
/// enterprise gateway's, then the general ones.
pub fn env_vars() -> Vec<EnvVar> {
    DESCRIPTORS
        .iter()
        .flat_map(|d| d.env_vars())
        .chain(crate::wire::gateway::VARS.iter().copied())
        .chain(crate::env::GENERAL.iter().copied())
        .collect()
}

/// The names of every shipped provider, in table order.
pub fn names() -> impl Iterator<Item = &'static str> {
    DESCRIPTORS.iter().map(|d| d.name)
}

impl Descriptor {
    /// The provider speaking `api` (its default API when `None`). Fails with `unsupported` when
    /// it does not speak that API, or this build lacks the adapter.
    pub fn provider(&self, api: Option<Api>) -> Result<HttpProvider> {
        let api = api.unwrap_or(self.apis[0]);
        if !self.apis.contains(&api) {
            let spoken: Vec<&str> = self.apis.iter().map(|a| a.name()).collect();
            return Err(Error::new(
                ErrorKind::Unsupported,
                self.name,
                format!(
                    "{} does not speak the {} API (it speaks: {})",
                    self.name,
                    api.name(),
                    spoken.join(", ")
                ),
            ));
        }
        let format = (self.format)(api).ok_or_else(|| {
            Error::new(
                ErrorKind::Unsupported,
                self.name,
                format!(
                    "this build of concord has no {} adapter for {} (enable its cargo feature)",
                    api.name(),
                    self.name
                ),
            )
        })?;
        // A row narrows what the format can do; it cannot claim prefill a format lacks.
        let capabilities = Capabilities {
            assistant_prefill: self.capabilities.assistant_prefill
                && format.continues_assistant_turn(),
            ..self.capabilities
        };
        Ok(
            HttpProvider::from_parts(self.name, format, self.endpoint, self.auth)
                .with_capabilities(capabilities),
        )
    }

    /// Every environment variable this provider reads.
    pub fn env_vars(&self) -> Vec<EnvVar> {
        let mut vars = vec![self.key, self.base_url, self.live_model];
        vars.extend_from_slice(self.setup.vars());
        vars
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Provider;

    use crate::env::lookup_in as lookup;

    #[test]
    fn names_are_unique_and_every_row_builds_its_default_api() {
        let mut names: Vec<_> = names().collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DESCRIPTORS.len());
        for d in DESCRIPTORS {
            let p = d.provider(None).unwrap();
            assert_eq!(p.name(), d.name, "errors name the configured provider");
        }
    }

    #[test]
    fn an_api_a_provider_does_not_speak_is_unsupported() {
        let err = get("anthropic")
            .unwrap()
            .provider(Some(Api::Responses))
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unsupported);
        assert!(err.message.contains("messages"), "{err}");
        assert_eq!(
            get("openai")
                .unwrap()
                .provider(Some(Api::Responses))
                .unwrap()
                .format()
                .id(),
            "responses"
        );
    }

    fn connect(name: &str, vars: &[(&str, &str)]) -> Result<crate::RuntimeContext> {
        let d = get(name).unwrap();
        let c = Connection::from_vars(d, &lookup(vars))?;
        d.connect(&c, reqwest::Client::new()).map(|(_, ctx)| ctx)
    }

    #[test]
    fn a_context_comes_from_the_variables_with_defaults() {
        let ctx = connect("anthropic", &[("ANTHROPIC_API_KEY", "sk-ant-x1234567")]).unwrap();
        assert_eq!(ctx.base_url.as_deref(), Some("https://api.anthropic.com"));
        assert_eq!(ctx.timeout, Some(std::time::Duration::from_secs(60)));
        assert_eq!(ctx.credential.unwrap().expose(), "sk-ant-x1234567");
    }

    #[test]
    fn a_missing_key_names_its_variable() {
        let err = connect("gemini", &[]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::MissingRuntimeContext);
        assert!(err.message.contains("GEMINI_API_KEY"), "{err}");
        let err = connect(
            "openai-compatible",
            &[("OPENAI_COMPATIBLE_API_KEY", "k-12345678")],
        )
        .unwrap_err();
        assert!(err.message.contains("OPENAI_COMPATIBLE_BASE_URL"), "{err}");
    }

    #[test]
    fn a_bad_timeout_or_base_url_is_invalid_config_naming_it() {
        let key = ("OPENAI_API_KEY", "k-12345678");
        for (vars, named) in [
            (
                vec![key, ("CONCORD_TIMEOUT_SECS", "soon")],
                "CONCORD_TIMEOUT_SECS",
            ),
            (
                vec![key, ("OPENAI_BASE_URL", "https://api.openai.com/v1?key=x")],
                "query",
            ),
            (
                vec![key, ("OPENAI_BASE_URL", "ftp://api.openai.com/v1")],
                "scheme",
            ),
        ] {
            let err = connect("openai", &vars).unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidConfig, "{err}");
            assert!(err.message.contains(named), "{err}");
            assert!(
                !err.message.contains("key=x"),
                "the query is not echoed: {err}"
            );
        }
    }

    #[test]
    fn azure_takes_a_key_then_a_token_then_client_credentials() {
        let base = ("AZURE_OPENAI_ENDPOINT", "https://r.openai.azure.com");
        let ctx = connect("azure", &[base, ("AZURE_OPENAI_API_KEY", "k-1234567")]).unwrap();
        assert_eq!(
            ctx.credential.unwrap().kind(),
            crate::CredentialKind::ApiKey
        );
        let ctx = connect(
            "azure",
            &[
                base,
                ("AZURE_OPENAI_AD_TOKEN", "t-1234567"),
                ("AZURE_OPENAI_API_VERSION", "2024-10-21"),
            ],
        )
        .unwrap();
        assert_eq!(
            ctx.credential.unwrap().kind(),
            crate::CredentialKind::BearerToken
        );
        assert_eq!(ctx.api_version.as_deref(), Some("2024-10-21"));
        let ctx = connect(
            "azure",
            &[
                base,
                ("AZURE_TENANT_ID", "t"),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_CLIENT_SECRET", "s-SECRET"),
            ],
        )
        .unwrap();
        assert!(ctx.credential.is_none() && ctx.credential_source.is_some());
        assert!(!format!("{ctx:?}").contains("SECRET"));
    }

    #[test]
    fn a_missing_azure_credential_names_every_variable_that_could_supply_it() {
        let base = ("AZURE_OPENAI_ENDPOINT", "https://r.openai.azure.com");
        let err = connect("azure", &[base]).unwrap_err();
        for name in [
            "AZURE_OPENAI_API_KEY",
            "AZURE_OPENAI_AD_TOKEN",
            "AZURE_TENANT_ID",
            "AZURE_CLIENT_ID",
            "AZURE_CLIENT_SECRET",
        ] {
            assert!(err.message.contains(name), "{name}: {err}");
        }
        let err = connect("azure", &[base, ("AZURE_TENANT_ID", "t")]).unwrap_err();
        assert!(
            err.message
                .contains("AZURE_CLIENT_ID and AZURE_CLIENT_SECRET"),
            "{err}"
        );
    }

    #[test]
    fn vertex_builds_its_base_from_project_and_location() {
        let ctx = connect(
            "vertex",
            &[
                ("VERTEX_ACCESS_TOKEN", "ya29.token"),
                ("GOOGLE_CLOUD_PROJECT", "p1"),
                ("GOOGLE_CLOUD_LOCATION", "europe-west4"),
            ],
        )
        .unwrap();
        assert_eq!(
            ctx.base_url.as_deref(),
            Some("https://europe-west4-aiplatform.googleapis.com/v1/projects/p1/locations/europe-west4")
        );
        assert_eq!(
            setup::vertex_base_url("p1", "global"),
            "https://aiplatform.googleapis.com/v1/projects/p1/locations/global"
        );
        let err = connect("vertex", &[("GOOGLE_CLOUD_PROJECT", "p1")]).unwrap_err();
        assert!(
            err.message.contains("VERTEX_ACCESS_TOKEN")
                && err.message.contains("GOOGLE_APPLICATION_CREDENTIALS"),
            "{err}"
        );
    }

    #[test]
    fn variable_names_are_unique_and_shouted() {
        let all = env_vars();
        let mut names: Vec<_> = all.iter().map(|v| v.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
        assert!(all
            .iter()
            .all(|v| v.name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')));
    }

    #[test]
    fn secrets_have_no_default() {
        assert!(env_vars()
            .iter()
            .filter(|v| v.ty == "secret")
            .all(|v| v.default.is_none()));
    }
}
