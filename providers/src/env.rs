//! An environment variable ([`EnvVar`]) and the general ones ([`GENERAL`]); the enterprise
//! gateway's are in `wire/gateway.rs`, each provider's in its row of the descriptor table, and
//! `descriptor::env_vars` lists all of them. The settings sections of the other crates declare theirs with their
//! keys. `cargo xtask env-docs` writes `docs/configuration.md` and `.env.example` from all of
//! them (`concord_registry::settings::docs`).
//!
//! Adapters never read the environment; the CLI and explicit callers do, through
//! [`EnvVar::get`] and `Connection::from_env`.

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
    /// A variable (arguments in the order the tables list them).
    pub const fn new(
        name: &'static str,
        ty: &'static str,
        default: Option<&'static str>,
        group: &'static str,
        description: &'static str,
    ) -> Self {
        Self {
            name,
            ty,
            default,
            description,
            group,
        }
    }

    /// The variable's value, `None` when unset or empty.
    pub fn get(&self) -> Option<String> {
        std::env::var(self.name).ok().filter(|v| !v.is_empty())
    }

    /// The value, or the default.
    pub fn get_or_default(&self) -> Option<String> {
        self.get().or_else(|| self.default.map(str::to_owned))
    }
}

/// A lookup over fixed `(name, value)` pairs, falling back to each variable's default as the
/// environment lookup does: how a program with its own configuration source (or a test) feeds
/// `Connection::from_vars` without touching the process environment.
pub fn lookup_in<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&EnvVar) -> Option<String> + 'a {
    move |var| {
        pairs
            .iter()
            .find(|(n, _)| *n == var.name)
            .map(|(_, v)| v.to_string())
            .or_else(|| var.default.map(str::to_owned))
    }
}

macro_rules! vars {
    ($($ident:ident = $name:literal, $ty:literal, $default:expr, $group:literal, $desc:literal;)*) => {
        $(
            #[doc = $desc]
            pub const $ident: EnvVar = EnvVar::new($name, $ty, $default, $group, $desc);
        )*
        /// The variables that belong to no provider.
        pub const GENERAL: &[EnvVar] = &[$($ident),*];
    };
}

vars! {
    CONCORD_TIMEOUT_SECS = "CONCORD_TIMEOUT_SECS", "integer", Some("60"), "Runtime",
        "Seconds a call waits for the vendor (for streams: for the first byte and between chunks).";
    CONCORD_LOG = "CONCORD_LOG", "string", Some("warn"), "Runtime",
        "Log filter for the CLI in `tracing` syntax (`debug`, `concord=trace`). Credentials are never logged.";
}
