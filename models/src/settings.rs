//! `[database]`: where the model database lives. With nothing set it is a SQLite file in concord's
//! data folder, so every command works with no setup; a Postgres URL serves several instances.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use concord_settings::schemars::{self, JsonSchema};
use concord_settings::{Issues, SecretRef, Section};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::{Models, SqlStore};

/// `[database]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSection {
    /// The database: `sqlite:///path/concord.db` or `postgres://user@host:5432/db` (its
    /// password in `password`, never in the URL); unset: the SQLite file `concord.db` in
    /// `data_dir`.
    #[schemars(extend("x-env" = "CONCORD_DATABASE_URL", "x-type" = "url"))]
    pub url: Option<String>,
    /// Where the Postgres password comes from: `{ env = "VAR" }` or `{ file = "path" }`.
    pub password: Option<SecretRef>,
    /// The folder of the embedded database (default: `$XDG_DATA_HOME/concord`, else
    /// `~/.local/share/concord`).
    #[schemars(extend("x-env" = "CONCORD_DATA_DIR", "x-type" = "path"))]
    pub data_dir: Option<PathBuf>,
    /// Seconds between re-reads of the model database, so edits made by other instances are seen;
    /// 0 turns it off (edits through this process are seen at once).
    #[schemars(example = 30)]
    pub refresh_secs: u64,
}

impl Default for DatabaseSection {
    fn default() -> Self {
        Self {
            url: None,
            password: None,
            data_dir: None,
            refresh_secs: 30,
        }
    }
}

impl Section for DatabaseSection {
    const PATH: &'static str = "database";
    const ABOUT: &'static str = "Where the model database and the call records live: an \
        embedded SQLite file by default, Postgres for several instances.";

    fn validate(&self, issues: &mut Issues) {
        if let Some(url) = &self.url {
            let scheme = url.split("://").next().unwrap_or_default();
            if !matches!(scheme, "sqlite" | "postgres" | "postgresql") {
                issues.push(
                    "url",
                    format!("the scheme `{scheme}` is not a database concord speaks"),
                    "sqlite:///path/concord.db or postgres://user@host:5432/db",
                );
            }
            if let Some((_, rest)) = url.split_once("://") {
                let userinfo = rest.split('@').next().filter(|_| rest.contains('@'));
                if userinfo.is_some_and(|u| u.contains(':')) {
                    issues.push(
                        "url",
                        "has a password in it (not shown); give it in `password` instead",
                        "postgres://user@host:5432/db with password = { env = \"VAR\" }",
                    );
                }
            }
        }
    }
}

impl DatabaseSection {
    /// The URL to connect to: the configured one (its password put in), else the SQLite
    /// file in the data folder.
    pub fn url(&self, env: &(dyn Fn(&str) -> Option<String> + Sync)) -> Result<String> {
        match &self.url {
            Some(url) => match &self.password {
                None => Ok(url.clone()),
                Some(secret) => {
                    let password = secret.resolve(env).map_err(Error::Invalid)?;
                    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
                    let (user, host) = rest.split_once('@').ok_or_else(|| {
                        Error::Invalid(
                            "database.url needs a user (user@host) for a password".into(),
                        )
                    })?;
                    Ok(format!("{scheme}://{user}:{}@{host}", encode(&password)))
                }
            },
            None => Ok(format!(
                "sqlite://{}",
                self.data_dir(env).join("concord.db").display()
            )),
        }
    }

    /// The data folder: `data_dir`, else `$XDG_DATA_HOME/concord`, else
    /// `~/.local/share/concord`, else `./.concord`.
    pub fn data_dir(&self, env: &(dyn Fn(&str) -> Option<String> + Sync)) -> PathBuf {
        if let Some(d) = &self.data_dir {
            return d.clone();
        }
        if let Some(x) = env("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(x).join("concord");
        }
        match env("HOME").filter(|v| !v.is_empty()) {
            Some(h) => PathBuf::from(h).join(".local/share/concord"),
            None => PathBuf::from(".concord"),
        }
    }

    /// Opens the model database these settings name (creating, migrating and seeding it as needed),
    /// refreshed every `refresh_secs` when that is above zero (needs a Tokio runtime).
    pub async fn open(&self, env: &(dyn Fn(&str) -> Option<String> + Sync)) -> Result<Arc<Models>> {
        Ok(self.open_with_store(env).await?.0)
    }

    /// [`open`](Self::open), and the SQL store beneath, for a crate that keeps tables of its
    /// own in the same database.
    pub async fn open_with_store(
        &self,
        env: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> Result<(Arc<Models>, SqlStore)> {
        let store = SqlStore::open(&self.url(env)?).await?;
        let models = Arc::new(Models::open(Arc::new(store.clone())).await?);
        if self.refresh_secs > 0 {
            // The task ends when the last handle to the model database goes.
            drop(models.refresh_every(Duration::from_secs(self.refresh_secs)));
        }
        Ok((models, store))
    }
}

/// Percent-encodes what a URL's userinfo cannot hold.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
