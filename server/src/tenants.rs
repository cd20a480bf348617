//! Tenants and their keys. A key is 32 random bytes from the operating system, shown once when
//! made and kept only as its SHA-256; a request's key is hashed and looked up in an in-memory
//! snapshot (never the database on the request path), and the stored hash compared in constant
//! time. A hash of a high-entropy key needs no slow password hash: there is nothing to guess.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use base64::Engine;
use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Row};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_tenants.sql")),
    (2, include_str!("../migrations/0002_budgets.sql")),
    (3, include_str!("../migrations/0003_rate_limits.sql")),
];

/// What every key starts with (so a leaked one is recognisable to secret scanners).
pub const KEY_PREFIX: &str = "sk-concord-";

/// One tenant, as the server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// Its name (`[a-z0-9_-]`, at most 64).
    pub name: String,
    /// Refused with 403 while set.
    pub disabled: bool,
    /// The model its calls get when they name none (`provider/model`).
    pub default_model: Option<String>,
    /// When it was made, Unix milliseconds.
    pub created_at_ms: i64,
    /// The last four characters of each key it has, oldest first.
    pub key_hints: Vec<String>,
    /// What it may spend per period, if limited.
    pub budget: Option<Budget>,
    /// Requests per minute, if limited (`limits.rs`).
    pub rpm: Option<u64>,
    /// Tokens per minute, if limited.
    pub tpm: Option<u64>,
}

/// A spending limit: at most `limit` per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The most it may spend in a period.
    pub limit: concord_models::Money,
    /// How long a period is.
    pub period: Period,
}

/// A budget's period: UTC calendar days or months, or all time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// From 00:00 UTC.
    Day,
    /// From the 1st, 00:00 UTC.
    Month,
    /// Never resets.
    Total,
}

impl Period {
    /// `day`, `month`, `total`.
    pub fn name(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Month => "month",
            Period::Total => "total",
        }
    }

    /// The period named `name`.
    pub fn from_name(name: &str) -> Option<Period> {
        [Period::Day, Period::Month, Period::Total]
            .into_iter()
            .find(|p| p.name() == name)
    }
}

/// What a key says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// A key of this tenant.
    Tenant(Arc<Tenant>),
    /// A key of a disabled tenant.
    Disabled(String),
    /// No tenant has it.
    Unknown,
}

type Hash = [u8; 32];

#[derive(Default)]
struct Snapshot {
    by_hash: HashMap<Hash, (Hash, Arc<Tenant>)>,
    tenants: Vec<Arc<Tenant>>,
}

/// The tenants of a deployment, in the database and in memory.
pub struct Tenants {
    pool: AnyPool,
    snapshot: ArcSwap<Snapshot>,
    limits: ArcSwap<Box<dyn crate::limits::RateStore>>,
    /// Told of every write made through here (`shared.rs` tells the other instances).
    changed: concord_models::Notify,
}

impl std::fmt::Debug for Tenants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenants")
            .field("tenants", &self.snapshot.load().tenants.len())
            .finish_non_exhaustive()
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn hash(key: &str) -> Hash {
    Sha256::digest(key.as_bytes()).into()
}

fn hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Hash> {
    let mut out = [0u8; 32];
    if s.len() != 64 {
        return None;
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// A new key: the prefix and 32 random bytes, base64url.
fn new_key() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| Error::Startup(format!("the operating system gave no random bytes: {e}")))?;
    Ok(format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// A new random admin key (`sk-concord-admin-…`), for a deployment that has none set.
pub fn new_admin_key() -> Result<String> {
    new_key().map(|k| k.replacen(KEY_PREFIX, "sk-concord-admin-", 1))
}

/// A tenant's name is safe in a log line, a metric label and a URL path.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "{name:?}: a tenant's name is 1 to 64 of a-z, 0-9, - and _"
        )))
    }
}

impl Tenants {
    /// The tenants in the database `pool` reaches (its tables made when absent), read once.
    pub async fn open(pool: AnyPool) -> Result<Self> {
        concord_models::migrate(&pool, "concord_server_migrations", MIGRATIONS).await?;
        let tenants = Self {
            pool,
            snapshot: ArcSwap::default(),
            limits: ArcSwap::from_pointee(Box::new(crate::limits::TenantLimits::default())),
            changed: concord_models::Notify::default(),
        };
        tenants.refresh().await?;
        Ok(tenants)
    }

    /// Reads every tenant and key again (after a write, or another instance's).
    pub async fn refresh(&self) -> Result<()> {
        let rows = sqlx::query(
            "SELECT name, disabled, default_model, created_at, budget, budget_period, rpm, tpm FROM tenants ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut tenants: Vec<Tenant> = Vec::with_capacity(rows.len());
        for r in &rows {
            tenants.push(Tenant {
                name: r.try_get("name")?,
                disabled: r.try_get::<i64, _>("disabled")? != 0,
                default_model: r.try_get("default_model")?,
                created_at_ms: r.try_get("created_at")?,
                key_hints: Vec::new(),
                budget: match (
                    r.try_get::<Option<i64>, _>("budget")?,
                    r.try_get::<Option<String>, _>("budget_period")?,
                ) {
                    (Some(limit), Some(p)) => Some(Budget {
                        limit: concord_models::Money(limit),
                        period: Period::from_name(&p).ok_or_else(|| {
                            Error::Database(format!("unknown budget period {p:?}"))
                        })?,
                    }),
                    _ => None,
                },
                rpm: r
                    .try_get::<Option<i64>, _>("rpm")?
                    .and_then(|n| u64::try_from(n).ok()),
                tpm: r
                    .try_get::<Option<i64>, _>("tpm")?
                    .and_then(|n| u64::try_from(n).ok()),
            });
        }
        let keys =
            sqlx::query("SELECT hash, tenant, hint FROM tenant_keys ORDER BY created_at, hash")
                .fetch_all(&self.pool)
                .await?;
        let mut owners: Vec<(Hash, String)> = Vec::with_capacity(keys.len());
        for k in &keys {
            let tenant: String = k.try_get("tenant")?;
            let hint: String = k.try_get("hint")?;
            let h: String = k.try_get("hash")?;
            let h = unhex(&h)
                .ok_or_else(|| Error::Database(format!("a key hash of {tenant} is not hex")))?;
            if let Some(t) = tenants.iter_mut().find(|t| t.name == tenant) {
                t.key_hints.push(hint);
            }
            owners.push((h, tenant));
        }
        let tenants: Vec<Arc<Tenant>> = tenants.into_iter().map(Arc::new).collect();
        let by_hash = owners
            .into_iter()
            .filter_map(|(h, owner)| {
                let t = tenants.iter().find(|t| t.name == owner)?;
                Some((h, (h, t.clone())))
            })
            .collect();
        self.snapshot.store(Arc::new(Snapshot { by_hash, tenants }));
        Ok(())
    }

    /// Every tenant's requests and tokens this minute, against its own limits: in this
    /// process, unless [`Tenants::share_limits`] put them elsewhere.
    pub fn rate_limits(&self) -> Arc<Box<dyn crate::limits::RateStore>> {
        self.limits.load_full()
    }

    /// Keeps the tenants' rate limits in `store` from now on (Redis, for several instances).
    pub fn share_limits(&self, store: Box<dyn crate::limits::RateStore>) {
        self.limits.store(Arc::new(store));
    }

    /// Calls `f` after every write made through these tenants (once set, it stays).
    pub fn on_change(&self, f: impl Fn() + Send + Sync + 'static) {
        self.changed.set(f);
    }

    /// Re-reads after a write of ours, and says so.
    async fn wrote(&self) -> Result<()> {
        let r = self.refresh().await;
        self.changed.wrote();
        r
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Who holds `key`.
    pub fn authenticate(&self, key: &str) -> Auth {
        let h = hash(key);
        let snap = self.snapshot.load();
        match snap.by_hash.get(&h) {
            // The map found it by hash; the stored hash is compared again in constant time so
            // no path through here depends on how much of a key was right.
            Some((stored, t)) if bool::from(stored.ct_eq(&h)) => {
                if t.disabled {
                    Auth::Disabled(t.name.clone())
                } else {
                    Auth::Tenant(t.clone())
                }
            }
            _ => Auth::Unknown,
        }
    }

    /// Every tenant, by name.
    pub fn list(&self) -> Vec<Arc<Tenant>> {
        self.snapshot.load().tenants.clone()
    }

    /// The tenant `name`, if there is one.
    pub fn get(&self, name: &str) -> Option<Arc<Tenant>> {
        self.snapshot
            .load()
            .tenants
            .iter()
            .find(|t| t.name == name)
            .cloned()
    }

    /// Makes a tenant with one key (and a budget, if given), in one transaction, and returns
    /// the key: the only time it is shown.
    pub async fn create(
        &self,
        name: &str,
        default_model: Option<&str>,
        budget: Option<Budget>,
    ) -> Result<String> {
        check_name(name)?;
        if budget.is_some_and(|b| b.limit.0 < 0) {
            return Err(Error::Invalid("a budget is zero or more".into()));
        }
        let key = new_key()?;
        let mut tx = self.pool.begin().await?;
        if lock_row(&mut tx, name).await? {
            return Err(Error::Exists(format!(
                "a tenant called {name} exists (rotate its key with `concord tenants rotate-key {name}`)"
            )));
        }
        sqlx::query(
            "INSERT INTO tenants (name, disabled, default_model, created_at, budget, budget_period) \
             VALUES ($1, 0, $2, $3, $4, $5)",
        )
        .bind(name)
        .bind(default_model)
        .bind(now_ms())
        .bind(budget.map(|b| b.limit.0))
        .bind(budget.map(|b| b.period.name()))
        .execute(&mut *tx)
        .await?;
        insert_key(&mut tx, name, &key).await?;
        tx.commit().await?;
        self.wrote().await?;
        Ok(key)
    }

    /// Replaces every key of `name` with a new one, and returns it: old keys stop working at
    /// once (in this process; other instances at their next refresh).
    pub async fn rotate_key(&self, name: &str) -> Result<String> {
        let key = new_key()?;
        let mut tx = self.pool.begin().await?;
        self.must_exist(&mut tx, name).await?;
        sqlx::query("DELETE FROM tenant_keys WHERE tenant = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        insert_key(&mut tx, name, &key).await?;
        tx.commit().await?;
        self.wrote().await?;
        Ok(key)
    }

    /// Sets (or, with `None`, removes) `name`'s budget.
    pub async fn set_budget(&self, name: &str, budget: Option<Budget>) -> Result<()> {
        if budget.is_some_and(|b| b.limit.0 < 0) {
            return Err(Error::Invalid("a budget is zero or more".into()));
        }
        let mut tx = self.pool.begin().await?;
        self.must_exist(&mut tx, name).await?;
        sqlx::query("UPDATE tenants SET budget = $1, budget_period = $2 WHERE name = $3")
            .bind(budget.map(|b| b.limit.0))
            .bind(budget.map(|b| b.period.name()))
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.wrote().await
    }

    /// Sets `name`'s requests and tokens per minute (`None`: unlimited).
    pub async fn set_rate_limits(
        &self,
        name: &str,
        rpm: Option<u64>,
        tpm: Option<u64>,
    ) -> Result<()> {
        if rpm == Some(0) || tpm == Some(0) {
            return Err(Error::Invalid(
                "a rate limit is at least 1 a minute (leave it out for none)".into(),
            ));
        }
        let signed = |n: Option<u64>| n.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        let mut tx = self.pool.begin().await?;
        self.must_exist(&mut tx, name).await?;
        sqlx::query("UPDATE tenants SET rpm = $1, tpm = $2 WHERE name = $3")
            .bind(signed(rpm))
            .bind(signed(tpm))
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.wrote().await
    }

    /// Refuses (`true`) or admits again (`false`) every key of `name`.
    pub async fn set_disabled(&self, name: &str, disabled: bool) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        self.must_exist(&mut tx, name).await?;
        sqlx::query("UPDATE tenants SET disabled = $1 WHERE name = $2")
            .bind(i64::from(disabled))
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.wrote().await
    }

    async fn must_exist(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        name: &str,
    ) -> Result<()> {
        match lock_row(tx, name).await? {
            true => Ok(()),
            false => Err(Error::NotFound(format!(
                "no tenant called {name} (see concord tenants list)"
            ))),
        }
    }
}

/// Whether `name` exists, asked with a write so the transaction holds the database's write
/// lock from its first statement: SQLite refuses at once ("database is locked"), rather than
/// waiting, a transaction that read first and writes second while another writes (the
/// recorder, another `concord tenants` command). Postgres locks the row.
async fn lock_row(tx: &mut sqlx::Transaction<'_, sqlx::Any>, name: &str) -> Result<bool> {
    let touched = sqlx::query("UPDATE tenants SET name = name WHERE name = $1")
        .bind(name)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(touched > 0)
}

async fn insert_key(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    tenant: &str,
    key: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO tenant_keys (hash, tenant, hint, created_at) VALUES ($1, $2, $3, $4)")
        .bind(hex(&hash(key)))
        .bind(tenant)
        .bind(&key[key.len() - 4..])
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_hash_back() {
        let (a, b) = (new_key().unwrap(), new_key().unwrap());
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX));
        assert_eq!(a.len(), KEY_PREFIX.len() + 43);
        assert_eq!(unhex(&hex(&hash(&a))), Some(hash(&a)));
        assert!(check_name("team-a_1").is_ok());
        assert!(check_name("Team A").is_err());
    }
}
