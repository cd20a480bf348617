//! `[providers.<name>]`: one section per provider instance — a shipped provider (a row of the
//! descriptor table) or a plugin — with where its key comes from and its defaults.

use std::collections::BTreeMap;
use std::path::PathBuf;

use concord::descriptor::{self, Api};
use concord_dispatch::DispatcherSection;
use concord_settings::schemars::{self, JsonSchema};
use concord_settings::{Issues, SecretRef, Section};
use serde::{Deserialize, Serialize};

/// One `[providers.<name>]` section, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderSection {
    /// Which shipped provider this instance is (a row of the descriptor table), or `plugin`.
    /// Required.
    #[serde(rename = "type")]
    #[schemars(example = &"openai", extend("x-type" = "provider type"))]
    pub kind: Option<String>,
    /// Which of its APIs it speaks (default: the provider's first).
    #[schemars(extend("x-type" = "api"))]
    pub api: Option<String>,
    /// The vendor base URL (default: the provider's `*_BASE_URL` variable, then the vendor's
    /// public URL).
    #[schemars(
        example = &"https://api.openai.com/v1",
        extend(
            "x-type" = "url",
            "x-expected" = "an absolute http(s) URL without a query, like \"https://api.openai.com/v1\""
        )
    )]
    pub base_url: Option<String>,
    /// Where its key comes from: `{ env = "VAR" }` or `{ file = "path" }`; a key is never
    /// written in the file (default: the provider's key variable).
    #[schemars(example = SecretRef::Env("OPENAI_API_KEY".into()))]
    pub credential: Option<SecretRef>,
    /// The default model of its calls.
    #[schemars(example = &"gpt-4o-mini")]
    pub model: Option<String>,
    /// The default temperature of its calls.
    #[schemars(range(min = 0.0, max = 2.0))]
    pub temperature: Option<f64>,
    /// The default output-token limit of its calls.
    #[schemars(range(min = 1))]
    pub max_tokens: Option<u32>,
    /// Seconds a call waits for the vendor (default: `registry.timeout_secs`).
    #[schemars(range(min = 1), example = 60)]
    pub timeout_secs: Option<u64>,
    /// Azure OpenAI: an api-version for the classic deployment API.
    pub api_version: Option<String>,
    /// Vertex AI: the Google Cloud project.
    pub project: Option<String>,
    /// Vertex AI: the location (`global`, `us-central1`).
    pub location: Option<String>,
    /// For `type = "plugin"`: the plugin's `manifest.json`.
    #[schemars(extend("x-type" = "path"))]
    pub manifest: Option<PathBuf>,
    /// Any `[dispatcher]` key for this provider alone, as a table
    /// (`[providers.<name>.dispatcher]`: its rate, tenant quotas, caps, per-model breakers);
    /// the rest come from `[dispatcher]`.
    #[schemars(extend("x-type" = "table"))]
    pub dispatcher: Option<serde_json::Map<String, serde_json::Value>>,
    /// `false` keeps the section without registering it.
    #[schemars(example = true)]
    pub enabled: bool,
}

impl Default for ProviderSection {
    fn default() -> Self {
        Self {
            kind: None,
            api: None,
            base_url: None,
            credential: None,
            model: None,
            temperature: None,
            max_tokens: None,
            timeout_secs: None,
            api_version: None,
            project: None,
            location: None,
            manifest: None,
            dispatcher: None,
            enabled: true,
        }
    }
}

/// `[providers.*]`: the instances by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct ProvidersSection(pub BTreeMap<String, ProviderSection>);

fn types() -> String {
    let mut names: Vec<&str> = descriptor::names().collect();
    names.push("plugin");
    format!("one of {}", names.join(", "))
}

impl Section for ProvidersSection {
    const PATH: &'static str = "providers";
    const ABOUT: &'static str = "One section per provider instance; the name is yours (it is what \
        `--provider` takes and what the registry calls it).";

    fn validate(&self, issues: &mut Issues) {
        for (name, s) in &self.0 {
            let at = |key: &str| format!("{name}.{key}");
            if let Err(why) = crate::name::check(name) {
                issues.push(
                    name,
                    format!("{name:?} cannot name a provider: {why}"),
                    "a name of lowercase letters, digits, `-`, `_` or `.`",
                );
            }
            let row = match s.kind.as_deref() {
                None => {
                    issues.push(at("type"), "is missing", types());
                    None
                }
                Some("plugin") => {
                    if s.manifest.is_none() {
                        issues.push(
                            at("manifest"),
                            "is missing (a plugin instance starts from its manifest)",
                            "the path of a plugin's manifest.json",
                        );
                    }
                    None
                }
                Some(t) => match descriptor::get(t) {
                    Some(d) => Some(d),
                    None => {
                        issues.push(at("type"), format!("{t:?} is not valid"), types());
                        None
                    }
                },
            };
            if let (Some(d), Some(_)) = (row, &s.manifest) {
                issues.push(
                    at("manifest"),
                    format!("only a plugin has a manifest, and this is {}", d.name),
                    "type = \"plugin\", or no manifest",
                );
            }
            if let Some(a) = &s.api {
                let all: Vec<&str> = Api::ALL.iter().map(|a| a.name()).collect();
                match (Api::from_name(a), row) {
                    (None, _) => issues.push(
                        at("api"),
                        format!("{a:?} is not valid"),
                        format!("one of {}", all.join(", ")),
                    ),
                    (Some(api), Some(d)) if !d.apis.contains(&api) => {
                        let spoken: Vec<&str> = d.apis.iter().map(|a| a.name()).collect();
                        issues.push(
                            at("api"),
                            format!("{} does not speak the {} API", d.name, api.name()),
                            format!("one of {}", spoken.join(", ")),
                        );
                    }
                    _ => {}
                }
            }
            if let Some(url) = &s.base_url {
                if let Err(why) = concord::context::check_base_url(url) {
                    issues.push(
                        at("base_url"),
                        format!(
                            "`{}` cannot be used ({why})",
                            url.split('?').next().unwrap_or_default()
                        ),
                        "an absolute http(s) URL without a query, like \"https://api.openai.com/v1\"",
                    );
                }
            }
            if let Some(table) = &s.dispatcher {
                let table = serde_json::Value::Object(table.clone());
                issues.extend_under(
                    &at("dispatcher"),
                    concord_settings::check_json::<DispatcherSection>(&table),
                );
            }
        }
    }
}
