//! The registry of every environment variable concord reads: the only place their names are
//! spelled. `cargo xtask env-docs` writes `docs/configuration.md` and `.env.example` from it.
//!
//! Adapters never read the environment; the CLI and explicit `from_env` constructors do, through
//! [`EnvVar::get`].

/// One environment variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvVar {
    /// Its name.
    pub name: &'static str,
    /// The kind of value (`secret`, `url`, `integer`, `string`).
    pub ty: &'static str,
    /// The value used when it is unset, if any.
    pub default: Option<&'static str>,
    /// What it does.
    pub description: &'static str,
    /// The documentation group.
    pub group: &'static str,
}

impl EnvVar {
    /// The variable's value, `None` when unset or empty.
    pub fn get(&self) -> Option<String> {
        std::env::var(self.name).ok().filter(|v| !v.is_empty())
    }

    /// The value, or the default.
    pub fn get_or_default(&self) -> Option<String> {
        self.get().or_else(|| self.default.map(str::to_owned))
    }
}

macro_rules! vars {
    ($($ident:ident = $name:literal, $ty:literal, $default:expr, $group:literal, $desc:literal;)*) => {
        $(
            #[doc = $desc]
            pub const $ident: EnvVar = EnvVar {
                name: $name,
                ty: $ty,
                default: $default,
                description: $desc,
                group: $group,
            };
        )*
        /// Every variable, in documentation order.
        pub const ALL: &[EnvVar] = &[$($ident),*];
    };
}

vars! {
    OPENAI_API_KEY = "OPENAI_API_KEY", "secret", None, "OpenAI",
        "API key for OpenAI Chat Completions (`--provider openai`).";
    OPENAI_BASE_URL = "OPENAI_BASE_URL", "url", Some("https://api.openai.com/v1"), "OpenAI",
        "Base URL for `--provider openai`, including `/v1`.";
    OPENROUTER_API_KEY = "OPENROUTER_API_KEY", "secret", None, "OpenRouter",
        "API key for OpenRouter (`--provider openrouter`).";
    OPENROUTER_BASE_URL = "OPENROUTER_BASE_URL", "url", Some("https://openrouter.ai/api/v1"), "OpenRouter",
        "Base URL for `--provider openrouter`.";
    OPENAI_COMPATIBLE_API_KEY = "OPENAI_COMPATIBLE_API_KEY", "secret", None, "OpenAI-compatible",
        "API key for any OpenAI-compatible server (`--provider openai-compatible`: DeepSeek, Groq, vLLM, …).";
    OPENAI_COMPATIBLE_BASE_URL = "OPENAI_COMPATIBLE_BASE_URL", "url", None, "OpenAI-compatible",
        "Base URL (with `/v1`) of the OpenAI-compatible server; required for `--provider openai-compatible`.";
    ANTHROPIC_API_KEY = "ANTHROPIC_API_KEY", "secret", None, "Anthropic",
        "API key for Anthropic Messages (`--provider anthropic`).";
    ANTHROPIC_BASE_URL = "ANTHROPIC_BASE_URL", "url", Some("https://api.anthropic.com"), "Anthropic",
        "Base URL for `--provider anthropic` (host root; `/v1/messages` is added).";
    GEMINI_API_KEY = "GEMINI_API_KEY", "secret", None, "Gemini",
        "API key for the Gemini API (`--provider gemini`), sent as `x-goog-api-key`.";
    GEMINI_BASE_URL = "GEMINI_BASE_URL", "url", Some("https://generativelanguage.googleapis.com"), "Gemini",
        "Base URL for `--provider gemini` (host root; `/v1beta/models/…` is added).";
    CONCORD_TIMEOUT_SECS = "CONCORD_TIMEOUT_SECS", "integer", Some("60"), "Runtime",
        "Seconds a call waits for the vendor (for streams: for the first byte and between chunks).";
    CONCORD_MAX_RETRIES = "CONCORD_MAX_RETRIES", "integer", Some("2"), "Runtime",
        "Retries after a retryable failure (rate limit, overload, server error, timeout).";
    CONCORD_LIVE_OPENAI_MODEL = "CONCORD_LIVE_OPENAI_MODEL", "string", Some("gpt-4o-mini"), "Conformance",
        "Model used by `cargo xtask conformance --live` for openai.";
    CONCORD_LIVE_ANTHROPIC_MODEL = "CONCORD_LIVE_ANTHROPIC_MODEL", "string", Some("claude-haiku-4-5"), "Conformance",
        "Model used by `cargo xtask conformance --live` for anthropic.";
    CONCORD_LIVE_GEMINI_MODEL = "CONCORD_LIVE_GEMINI_MODEL", "string", Some("gemini-2.5-flash"), "Conformance",
        "Model used by `cargo xtask conformance --live` for gemini.";
    CONCORD_LOG = "CONCORD_LOG", "string", Some("warn"), "Runtime",
        "Log filter for the CLI in `tracing` syntax (`debug`, `concord=trace`). Credentials are never logged.";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_shouted() {
        let mut names: Vec<_> = ALL.iter().map(|v| v.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        assert!(ALL
            .iter()
            .all(|v| v.name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')));
    }

    #[test]
    fn secrets_have_no_default() {
        assert!(ALL
            .iter()
            .filter(|v| v.ty == "secret")
            .all(|v| v.default.is_none()));
    }
}

/// `docs/configuration.md`, generated from [`ALL`] by `cargo xtask env-docs`.
pub fn markdown() -> String {
    let mut out = String::from(
        "<!-- Generated by `cargo xtask env-docs` from providers/src/env.rs. Do not edit by hand. -->\n\
         # Configuration\n\n\
         Every environment variable concord reads. Only the `concord` CLI, `cargo xtask` and explicit\n\
         `from_env`-style code read them; providers never do (their context arrives with each call).\n",
    );
    let mut groups: Vec<&str> = Vec::new();
    for v in ALL {
        if !groups.contains(&v.group) {
            groups.push(v.group);
        }
    }
    for group in groups {
        out.push_str(&format!(
            "\n## {group}\n\n| variable | type | default | description |\n|---|---|---|---|\n"
        ));
        for v in ALL.iter().filter(|v| v.group == group) {
            let default = v
                .default
                .map_or_else(|| "—".to_owned(), |d| format!("`{d}`"));
            out.push_str(&format!(
                "| `{}` | {} | {default} | {} |\n",
                v.name, v.ty, v.description
            ));
        }
    }
    out
}

/// `.env.example`, generated from [`ALL`] by `cargo xtask env-docs`.
pub fn env_example() -> String {
    let mut out = String::from(
        "# Generated by `cargo xtask env-docs` from providers/src/env.rs. Do not edit by hand.\n",
    );
    let mut group = "";
    for v in ALL {
        if v.group != group {
            group = v.group;
            out.push_str(&format!("\n# {group}\n"));
        }
        out.push_str(&format!(
            "# {}\n{}={}\n",
            v.description,
            v.name,
            v.default.unwrap_or("")
        ));
    }
    out
}
