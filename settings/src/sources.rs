//! Where settings come from, lowest precedence first: the sections' defaults, a TOML file, the
//! environment, overrides (`--set key=value`).

use std::path::PathBuf;

/// How the loader reads a variable: its value by name.
pub type EnvLookup<'a> = Box<dyn Fn(&str) -> Option<String> + Send + Sync + 'a>;

/// Where settings come from.
pub struct Sources<'a> {
    /// The TOML file, if any.
    pub file: Option<PathBuf>,
    /// How a variable is looked up (the process environment, or a test's map).
    pub env: EnvLookup<'a>,
    /// `(setting, value)` pairs that win over everything; a value that is not TOML is a string.
    pub overrides: Vec<(String, String)>,
}

impl Sources<'static> {
    /// No file, no variables, no overrides: the defaults.
    pub fn none() -> Self {
        Self {
            file: None,
            env: Box::new(|_| None),
            overrides: Vec::new(),
        }
    }

    /// `file` (if any) and the process environment.
    pub fn from_env(file: Option<PathBuf>) -> Self {
        Self {
            file,
            env: Box::new(|name| std::env::var(name).ok()),
            overrides: Vec::new(),
        }
    }
}

impl<'a> Sources<'a> {
    /// `file` and variables looked up in `pairs` (tests, programs with their own source).
    pub fn with_vars(file: Option<PathBuf>, pairs: &'a [(&'a str, &'a str)]) -> Self {
        Self {
            file,
            env: Box::new(move |name| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }),
            overrides: Vec::new(),
        }
    }

    /// The same sources with `setting = value` overrides added.
    pub fn set(mut self, overrides: impl IntoIterator<Item = (String, String)>) -> Self {
        self.overrides.extend(overrides);
        self
    }
}
