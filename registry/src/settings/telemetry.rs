//! `[telemetry]`: what concord logs.

use concord_settings::schemars::{self, JsonSchema};
use concord_settings::Section;
use serde::{Deserialize, Serialize};

/// `[telemetry]`, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetrySection {
    /// The log filter, in `tracing` syntax (`warn`, `concord=debug`). Credentials are never
    /// logged.
    #[schemars(
        extend(
            "x-env" = "CONCORD_LOG",
            "x-type" = "filter",
            "x-expected" = "a tracing filter like \"warn\" or \"concord=debug\""
        ),
        example = &"warn"
    )]
    pub log: String,
}

impl Default for TelemetrySection {
    fn default() -> Self {
        Self { log: "warn".into() }
    }
}

impl Section for TelemetrySection {
    const PATH: &'static str = "telemetry";
    const ABOUT: &'static str = "What concord logs.";
}
