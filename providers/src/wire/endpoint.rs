//! An endpoint: where a wire format's operations live for one vendor. It turns the caller's base
//! URL, the model and an [`Operation`] into the URL to send to; it knows no bodies and no
//! credentials.

use super::format::Operation;

/// The address scheme of one vendor (or one deployment style of a vendor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endpoint {
    /// OpenAI and OpenAI-style servers: `{base}/{path}`, the base carrying `/v1`
    /// (`https://api.openai.com/v1`, `https://openrouter.ai/api/v1`, `http://localhost:8000/v1`).
    OpenAi,
    /// Anthropic: `{base}/v1/{path}`, the base being the host root (`https://api.anthropic.com`).
    Anthropic,
    /// The Gemini API: `{base}/v1beta/{path}`, the base being the host root
    /// (`https://generativelanguage.googleapis.com`). `v1beta` carries every feature concord uses
    /// (thinking config, response schemas).
    GeminiApi,
    /// Azure OpenAI, base `https://{resource}.openai.azure.com`. Without an api-version in the
    /// context: the v1 API, `{base}/openai/v1/{path}`, the deployment name as `model`. With one:
    /// the classic deployment path `{base}/openai/deployments/{model}/{path}?api-version=…`
    /// (Responses, which has no deployment path, at `{base}/openai/{path}?api-version=…`).
    Azure,
    /// Vertex AI: `{base}/publishers/google/{path}`, the base carrying project and location:
    /// `https://{location}-aiplatform.googleapis.com/v1/projects/{project}/locations/{location}`
    /// (the host is `aiplatform.googleapis.com` for location `global`).
    Vertex,
    /// Any other vendor: `{base}{prefix}/{path}`, the base sitting at `base_path` on its host.
    Custom {
        /// Where the base URL sits on the vendor's host (`/v1`, or empty for the host root).
        base_path: &'static str,
        /// What goes between the base URL and an operation's path (`/v1`, or empty).
        prefix: &'static str,
    },
}

impl Endpoint {
    /// The URL for `operation`, given the caller's base URL (no trailing `/`), the model and the
    /// context's api-version.
    pub fn url(
        &self,
        base: &str,
        model: &str,
        api_version: Option<&str>,
        operation: &Operation,
    ) -> String {
        let path = &operation.path;
        let mut query: Vec<(&str, &str)> = operation.query.to_vec();
        let mut url = match self {
            Self::OpenAi => format!("{base}/{path}"),
            Self::Anthropic => format!("{base}/v1/{path}"),
            Self::GeminiApi => format!("{base}/v1beta/{path}"),
            Self::Vertex => format!("{base}/publishers/google/{path}"),
            Self::Custom { prefix, .. } => format!("{base}{prefix}/{path}"),
            Self::Azure => match api_version {
                None => format!("{base}/openai/v1/{path}"),
                Some(version) => {
                    query.push(("api-version", version));
                    if path == "responses" || path.starts_with("responses/") {
                        format!("{base}/openai/{path}")
                    } else {
                        format!("{base}/openai/deployments/{}/{path}", encode_segment(model))
                    }
                }
            },
        };
        for (i, (name, value)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(name);
            url.push('=');
            url.push_str(&encode_segment(value));
        }
        url
    }

    /// Where a base URL sits on the vendor's host: `/v1` for OpenAI-style servers, empty for
    /// a host root, an example project and location for Vertex. Mock vendors use it to give
    /// each provider the base URL it expects.
    pub fn base_path(&self) -> &'static str {
        match self {
            Self::OpenAi => "/v1",
            Self::Anthropic | Self::GeminiApi | Self::Azure => "",
            Self::Vertex => "/v1/projects/conformance/locations/us-central1",
            Self::Custom { base_path, .. } => base_path,
        }
    }

    /// What a valid base URL looks like, for error messages and `--help`.
    pub fn base_url_example(&self) -> &'static str {
        match self {
            Self::OpenAi => "https://api.openai.com/v1 (OpenAI-style servers: with /v1)",
            Self::Anthropic => "https://api.anthropic.com (the host root)",
            Self::GeminiApi => "https://generativelanguage.googleapis.com (the host root)",
            Self::Azure => "https://{resource}.openai.azure.com (the resource root)",
            Self::Vertex => {
                "https://{location}-aiplatform.googleapis.com/v1/projects/{project}/locations/{location}"
            }
            Self::Custom { .. } => "an http:// or https:// URL",
        }
    }
}

/// Percent-encodes what may not stand in a path segment or query value as is.
fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:@!$'()*,;".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(path: &str) -> Operation {
        Operation::new(path)
    }

    /// Each vendor's documented address for each operation.
    #[test]
    fn urls_follow_each_vendors_docs() {
        let stream = Operation::new("models/gemini-2.5-flash:streamGenerateContent")
            .with_query("alt", "sse");
        let cases = [
            (
                Endpoint::OpenAi.url("https://api.openai.com/v1", "m", None, &op("chat/completions")),
                "https://api.openai.com/v1/chat/completions",
            ),
            (
                Endpoint::OpenAi.url("https://api.openai.com/v1", "m", None, &op("responses")),
                "https://api.openai.com/v1/responses",
            ),
            (
                Endpoint::Anthropic.url("https://api.anthropic.com", "m", None, &op("messages")),
                "https://api.anthropic.com/v1/messages",
            ),
            (
                Endpoint::GeminiApi.url("https://generativelanguage.googleapis.com", "m", None, &stream),
                "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            ),
            (
                Endpoint::Azure.url("https://r.openai.azure.com", "my-dep", None, &op("chat/completions")),
                "https://r.openai.azure.com/openai/v1/chat/completions",
            ),
            (
                Endpoint::Azure.url("https://r.openai.azure.com", "my-dep", Some("2024-10-21"), &op("chat/completions")),
                "https://r.openai.azure.com/openai/deployments/my-dep/chat/completions?api-version=2024-10-21",
            ),
            (
                Endpoint::Azure.url("https://r.openai.azure.com", "my-dep", Some("2025-04-01-preview"), &op("responses")),
                "https://r.openai.azure.com/openai/responses?api-version=2025-04-01-preview",
            ),
            (
                Endpoint::Vertex.url(
                    "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1",
                    "m",
                    None,
                    &stream,
                ),
                "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            ),
            (
                Endpoint::Custom { base_path: "", prefix: "/api" }.url("http://h", "m", None, &op("chat/completions")),
                "http://h/api/chat/completions",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn path_and_query_pieces_are_encoded() {
        assert_eq!(
            Endpoint::Azure.url("http://h", "dep/x y", Some("v&1"), &op("chat/completions")),
            "http://h/openai/deployments/dep%2Fx%20y/chat/completions?api-version=v%261"
        );
    }
}
