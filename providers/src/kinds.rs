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
