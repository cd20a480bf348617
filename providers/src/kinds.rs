//! The providers this crate ships, by name: where each one's key and base URL come from, and how
//! to build it. Adding a provider is its folder plus one row here.

use crate::env::{self, EnvVar};
use crate::provider::Provider;

/// A provider this crate can build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// OpenAI Chat Completions.
    OpenAi,
    /// OpenRouter (Chat Completions with its headers and `reasoning` field).
    OpenRouter,
    /// Any OpenAI-compatible server.
    OpenAiCompatible,
    /// Anthropic Messages.
    Anthropic,
    /// Google Gemini.
    Gemini,
}

impl ProviderKind {
    /// Every kind, in documentation order.
    pub const ALL: [ProviderKind; 5] = [
        Self::OpenAi,
        Self::OpenRouter,
        Self::OpenAiCompatible,
        Self::Anthropic,
        Self::Gemini,
    ];

    /// The name used on the command line and in errors.
    pub fn name(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::OpenRouter => "openrouter",
            Self::OpenAiCompatible => "openai-compatible",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
        }
    }

    /// The kind named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The variable holding the credential.
    pub fn key_var(self) -> EnvVar {
        match self {
            Self::OpenAi => env::OPENAI_API_KEY,
            Self::OpenRouter => env::OPENROUTER_API_KEY,
            Self::OpenAiCompatible => env::OPENAI_COMPATIBLE_API_KEY,
            Self::Anthropic => env::ANTHROPIC_API_KEY,
            Self::Gemini => env::GEMINI_API_KEY,
        }
    }

    /// The variable holding the base URL (and its default).
    pub fn base_url_var(self) -> EnvVar {
        match self {
            Self::OpenAi => env::OPENAI_BASE_URL,
            Self::OpenRouter => env::OPENROUTER_BASE_URL,
            Self::OpenAiCompatible => env::OPENAI_COMPATIBLE_BASE_URL,
            Self::Anthropic => env::ANTHROPIC_BASE_URL,
            Self::Gemini => env::GEMINI_BASE_URL,
        }
    }

    /// A new provider value of this kind, or `None` when its feature is off.
    pub fn build(self) -> Option<Box<dyn Provider>> {
        match self {
            #[cfg(feature = "openai")]
            Self::OpenAi => Some(Box::new(crate::openai::OpenAi::openai())),
            #[cfg(feature = "openai")]
            Self::OpenRouter => Some(Box::new(crate::openai::OpenAi::openrouter())),
            #[cfg(feature = "openai")]
            Self::OpenAiCompatible => Some(Box::new(crate::openai::OpenAi::compatible())),
            #[cfg(feature = "anthropic")]
            Self::Anthropic => Some(Box::new(crate::anthropic::Anthropic::new())),
            #[cfg(feature = "gemini")]
            Self::Gemini => Some(Box::new(crate::gemini::Gemini::new())),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }
}

impl ProviderKind {
    /// A context for this provider from the environment (key, base URL, timeout), the explicit
    /// opt-in for programs that want it; providers themselves never read the environment.
    /// Fails with `missing_runtime_context` naming the variable to set.
    pub fn context_from_env(
        self,
        model: impl Into<String>,
        client: reqwest::Client,
    ) -> crate::Result<crate::RuntimeContext> {
        self.context_from(model, client, |var| var.get_or_default())
    }

    /// [`ProviderKind::context_from_env`] with the variables looked up by `lookup`.
    pub fn context_from(
        self,
        model: impl Into<String>,
        client: reqwest::Client,
        lookup: impl Fn(&EnvVar) -> Option<String>,
    ) -> crate::Result<crate::RuntimeContext> {
        let missing = |var: EnvVar| {
            crate::Error::missing_context(self.name(), var.name, &format!("set {}", var.name))
        };
        let key = lookup(&self.key_var()).ok_or_else(|| missing(self.key_var()))?;
        let base = lookup(&self.base_url_var()).ok_or_else(|| missing(self.base_url_var()))?;
        let mut ctx = crate::RuntimeContext::new()
            .model(model)
            .credential(key)
            .base_url(base)
            .client(client);
        if let Some(secs) = lookup(&env::CONCORD_TIMEOUT_SECS) {
            let secs: u64 = secs.parse().map_err(|_| {
                crate::Error::new(
                    crate::ErrorKind::MissingRuntimeContext,
                    self.name(),
                    format!(
                        "{} must be a whole number of seconds, got {secs:?}",
                        env::CONCORD_TIMEOUT_SECS.name
                    ),
                )
            })?;
            ctx = ctx.timeout(std::time::Duration::from_secs(secs));
        }
        Ok(ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&EnvVar) -> Option<String> + 'a {
        move |var| {
            pairs
                .iter()
                .find(|(n, _)| *n == var.name)
                .map(|(_, v)| v.to_string())
                .or_else(|| var.default.map(str::to_owned))
        }
    }

    #[test]
    fn a_context_comes_from_the_variables_with_defaults() {
        let ctx = ProviderKind::Anthropic
            .context_from(
                "m",
                reqwest::Client::new(),
                lookup(&[("ANTHROPIC_API_KEY", "sk-ant-x1234567")]),
            )
            .unwrap();
        assert_eq!(ctx.base_url.as_deref(), Some("https://api.anthropic.com"));
        assert_eq!(ctx.timeout, Some(std::time::Duration::from_secs(60)));
        assert_eq!(ctx.credential.unwrap().expose(), "sk-ant-x1234567");
    }

    #[test]
    fn a_missing_key_names_its_variable() {
        let err = ProviderKind::Gemini
            .context_from("m", reqwest::Client::new(), lookup(&[]))
            .unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::MissingRuntimeContext);
        assert!(err.message.contains("GEMINI_API_KEY"), "{err}");
        let err = ProviderKind::OpenAiCompatible
            .context_from(
                "m",
                reqwest::Client::new(),
                lookup(&[("OPENAI_COMPATIBLE_API_KEY", "k-12345678")]),
            )
            .unwrap_err();
        assert!(err.message.contains("OPENAI_COMPATIBLE_BASE_URL"), "{err}");
    }

    #[test]
    fn a_bad_timeout_is_reported() {
        let err = ProviderKind::OpenAi
            .context_from(
                "m",
                reqwest::Client::new(),
                lookup(&[
                    ("OPENAI_API_KEY", "k-12345678"),
                    ("CONCORD_TIMEOUT_SECS", "soon"),
                ]),
            )
            .unwrap_err();
        assert!(err.message.contains("CONCORD_TIMEOUT_SECS"), "{err}");
    }
}
