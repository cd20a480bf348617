//! `[server]`: where `concord serve` listens and what it accepts. Added to the program's
//! configuration as one more section ([`sections`]), the way every crate extends it.

use concord_settings::schemars::{self, JsonSchema};
use concord_settings::{Issues, Section, SectionInfo};
use serde::{Deserialize, Serialize};

/// `[server]`, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSection {
    /// The address `concord serve` listens on. Loopback by default: put a TLS-terminating
    /// proxy in front before listening on another interface.
    #[schemars(
        extend(
            "x-env" = "CONCORD_LISTEN",
            "x-type" = "address",
            "x-expected" = "host:port, like 127.0.0.1:8080"
        ),
        example = &"127.0.0.1:8080"
    )]
    pub listen: String,
    /// The largest request body accepted, in bytes; a larger one is answered 413.
    #[schemars(range(min = 1024), example = 16_777_216)]
    pub body_limit: u64,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            body_limit: 16 * 1024 * 1024,
        }
    }
}

impl Section for ServerSection {
    const PATH: &'static str = "server";
    const ABOUT: &'static str = "Where `concord serve` listens and what it accepts.";

    fn validate(&self, issues: &mut Issues) {
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            issues.push(
                "listen",
                format!("{:?} is not an address to listen on", self.listen),
                "host:port with an IP address, like 127.0.0.1:8080 or 0.0.0.0:8080",
            );
        }
    }
}

/// The sections `concord serve` and the rest of the `concord` program read: the registry's
/// ([`concord_registry::settings::sections`]) and `[server]`.
pub fn sections() -> Vec<SectionInfo> {
    let mut all = concord_registry::settings::sections();
    all.push(SectionInfo::of::<ServerSection>());
    all
}
