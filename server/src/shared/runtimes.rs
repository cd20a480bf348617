//! Users' runtimes in Redis (`concord:runtime:<tenant>/<user>`, JSON, expiring after
//! `[runtimes] idle_ttl_secs` unused: each read renews it), so a change on one instance is what
//! the next call on any instance runs with.
//!
//! Redis not answering: reads fall back to this instance's copy of what it last read or wrote
//! (possibly older than a change made elsewhere meanwhile); changes are refused (503) rather
//! than kept where no other instance would see them.

use std::collections::BTreeMap;
use std::sync::Arc;

use concord::Parameters;
use concord_registry::{Error, RuntimeStore, Runtimes, UserRuntime};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::{redact, Shared};

/// A runtime as Redis keeps it. A credential is not kept: the server's runtimes never carry
/// one (the deployment's providers hold the keys), and a secret stays out of Redis.
#[derive(Serialize, Deserialize)]
struct Stored {
    provider: String,
    model: String,
    #[serde(default)]
    settings: Parameters,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base_url: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    data: BTreeMap<String, String>,
}

/// Users' runtimes held in Redis, with this instance's copies as the fallback for reads.
pub struct SharedRuntimes {
    shared: Arc<Shared>,
    local: Runtimes,
    ttl_ms: u64,
}

impl SharedRuntimes {
    /// Over `shared`, each runtime expiring after `config.idle_ttl` unused.
    pub fn new(shared: Arc<Shared>, config: concord_registry::RuntimesConfig) -> Self {
        Self {
            shared,
            ttl_ms: u64::try_from(config.idle_ttl.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
            local: Runtimes::new(config),
        }
    }

    fn gone(&self, e: &redis::RedisError) -> Error {
        let why = redact(e);
        self.shared.down(why.clone());
        Error::Unavailable(format!(
            "Redis does not answer ({why}): a change made now would not reach the other instances; try again shortly"
        ))
    }
}

fn key(user: &str) -> String {
    format!("concord:runtime:{user}")
}

impl RuntimeStore for SharedRuntimes {
    fn load<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<Option<Arc<UserRuntime>>, Error>> {
        Box::pin(async move {
            let Some(mut conn) = self.shared.conn() else {
                return Ok(self.local.get(user));
            };
            let read: redis::RedisResult<Option<String>> = redis::cmd("GETEX")
                .arg(key(user))
                .arg("PX")
                .arg(self.ttl_ms)
                .query_async(&mut conn)
                .await;
            let text = match read {
                Ok(t) => t,
                Err(e) => {
                    self.gone(&e);
                    return Ok(self.local.get(user));
                }
            };
            let Some(text) = text else {
                self.local.remove(user);
                return Ok(None);
            };
            let stored: Stored = serde_json::from_str(&text).map_err(|e| {
                Error::Unavailable(format!(
                    "the runtime of {user:?} in Redis is not one concord wrote ({e}); set it again"
                ))
            })?;
            let runtime = UserRuntime {
                settings: stored.settings,
                base_url: stored.base_url,
                data: stored.data,
                ..UserRuntime::new(stored.provider, stored.model)
            };
            self.local.set(user, runtime.clone());
            Ok(Some(Arc::new(runtime)))
        })
    }

    fn save<'a>(&'a self, user: &'a str, runtime: UserRuntime) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            if runtime.credential.is_some() {
                return Err(Error::Refused {
                    user: user.to_owned(),
                    why: "a runtime with its own credential is not kept in Redis".into(),
                });
            }
            let Some(mut conn) = self.shared.conn() else {
                return Err(Error::Unavailable(
                    "Redis does not answer: a change made now would not reach the other instances; try again shortly".into(),
                ));
            };
            let stored = Stored {
                provider: runtime.provider.clone(),
                model: runtime.model.clone(),
                settings: runtime.settings.clone(),
                base_url: runtime.base_url.clone(),
                data: runtime.data.clone(),
            };
            let text = serde_json::to_string(&stored).expect("a runtime serialises");
            let done: redis::RedisResult<()> = redis::cmd("SET")
                .arg(key(user))
                .arg(text)
                .arg("PX")
                .arg(self.ttl_ms)
                .query_async(&mut conn)
                .await;
            done.map_err(|e| self.gone(&e))?;
            self.local.set(user, runtime);
            Ok(())
        })
    }

    fn forget<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<bool, Error>> {
        Box::pin(async move {
            let Some(mut conn) = self.shared.conn() else {
                return Err(Error::Unavailable(
                    "Redis does not answer: a change made now would not reach the other instances; try again shortly".into(),
                ));
            };
            let n: redis::RedisResult<i64> = redis::cmd("DEL")
                .arg(key(user))
                .query_async(&mut conn)
                .await;
            let n = n.map_err(|e| self.gone(&e))?;
            self.local.remove(user);
            Ok(n > 0)
        })
    }
}
