//! The model database in SQL, one implementation for SQLite and Postgres: `sqlx`'s `Any` driver picks
//! the database by the URL, the migrations (`models/migrations/`) and queries are written once
//! in what both speak (TEXT and BIGINT columns, `$n` parameters, `ON CONFLICT … DO UPDATE`).

use std::path::Path;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use super::{ImportReport, Store};
use crate::cost::{PriceSet, Prices};
use crate::error::{Error, Result};
use crate::model::{CallRecord, Model, ProviderLimits, Status};
use crate::money::{Money, Price};

/// The migrations, in order: each applied once, in its own transaction. A small runner of our
/// own: sqlx's embeds migrations only through its `migrate!` macro, whose build (the macro
/// crates and every driver again) costs more than these lines.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/0001_models.sql")),
    (2, include_str!("../../migrations/0002_cache_write_1h.sql")),
];

/// The model database in a SQL database.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl SqlStore {
    /// Opens (creating a SQLite file and its folder when absent) and migrates the database at
    /// `url`: `sqlite:///path/to/file.db` or `postgres://user@host/db`.
    pub async fn open(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let url = if let Some(path) = url.strip_prefix("sqlite://") {
            let file = path.split('?').next().unwrap_or_default();
            if let Some(dir) = Path::new(file)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir).map_err(|e| {
                    Error::Database(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            if path.contains('?') {
                url.to_owned()
            } else {
                format!("{url}?mode=rwc")
            }
        } else {
            url.to_owned()
        };
        // SQLite writes one at a time whatever the pool; a small pool keeps its readers.
        let max = if url.starts_with("sqlite:") { 4 } else { 8 };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(10))
            .connect(&url)
            .await?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<()> {
        migrate(&self.pool, "concord_migrations", MIGRATIONS).await
    }

    /// The connection pool, for a crate that keeps tables of its own in the same database
    /// (with [`migrate`] and a migrations table of its own).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// Applies `migrations` (`(version, SQL)`, in order) not yet recorded in the table `table`,
/// each in its own transaction. Written for SQLite and Postgres alike: `TEXT` and `BIGINT`.
pub async fn migrate(pool: &AnyPool, table: &str, migrations: &[(i64, &str)]) -> Result<()> {
    sqlx::query(&format!(
        "CREATE TABLE IF NOT EXISTS {table} (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)"
    ))
    .execute(pool)
    .await?;
    for (version, sql) in migrations {
        let mut tx = pool.begin().await?;
        let done: Option<i64> =
            sqlx::query_scalar(&format!("SELECT version FROM {table} WHERE version = $1"))
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
        if done.is_some() {
            continue;
        }
        for statement in statements(sql) {
            sqlx::query(&statement).execute(&mut *tx).await?;
        }
        sqlx::query(&format!(
            "INSERT INTO {table} (version, applied_at) VALUES ($1, $2)"
        ))
        .bind(version)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// The statements of a migration file (split on `;` at line ends; comments dropped).
fn statements(sql: &str) -> Vec<String> {
    let text: String = sql
        .lines()
        .map(|l| l.split("--").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    text.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

const MODEL_COLUMNS: &str = "provider, model, display_name, input_price, output_price, \
    cache_read_price, cache_write_price, reasoning_price, above_threshold, above_input_price, \
    above_output_price, above_cache_read_price, above_cache_write_price, above_reasoning_price, \
    context_window, max_output, modalities, capabilities, status, deprecated_on, replaced_by, \
    source, edited, updated_at, cache_write_1h_price, above_cache_write_1h_price";

fn price(row: &AnyRow, col: &str) -> Result<Option<Price>> {
    Ok(row.try_get::<Option<i64>, _>(col)?.map(Price))
}

fn count(row: &AnyRow, col: &str) -> Result<Option<u64>> {
    Ok(row.try_get::<Option<i64>, _>(col)?.map(|n| n.max(0) as u64))
}

fn list(row: &AnyRow, col: &str) -> Result<Vec<String>> {
    let text: String = row.try_get(col)?;
    serde_json::from_str(&text).map_err(|e| Error::Database(format!("{col}: {e}")))
}

fn model_of(row: &AnyRow) -> Result<Model> {
    let base = PriceSet {
        input: Price(row.try_get("input_price")?),
        output: Price(row.try_get("output_price")?),
        cache_read: price(row, "cache_read_price")?,
        cache_write: price(row, "cache_write_price")?,
        cache_write_1h: price(row, "cache_write_1h_price")?,
        reasoning: price(row, "reasoning_price")?,
    };
    let above = match (
        count(row, "above_threshold")?,
        price(row, "above_input_price")?,
        price(row, "above_output_price")?,
    ) {
        (Some(t), Some(input), Some(output)) => Some((
            t,
            PriceSet {
                input,
                output,
                cache_read: price(row, "above_cache_read_price")?,
                cache_write: price(row, "above_cache_write_price")?,
                cache_write_1h: price(row, "above_cache_write_1h_price")?,
                reasoning: price(row, "above_reasoning_price")?,
            },
        )),
        _ => None,
    };
    let status: String = row.try_get("status")?;
    Ok(Model {
        provider: row.try_get("provider")?,
        id: row.try_get("model")?,
        display_name: row.try_get("display_name")?,
        prices: Prices { base, above },
        context_window: count(row, "context_window")?,
        max_output: count(row, "max_output")?,
        modalities: list(row, "modalities")?,
        capabilities: list(row, "capabilities")?,
        status: Status::from_name(&status)
            .ok_or_else(|| Error::Database(format!("unknown status {status:?}")))?,
        deprecated_on: row.try_get("deprecated_on")?,
        replaced_by: row.try_get("replaced_by")?,
        source: row.try_get("source")?,
        edited: row.try_get::<i64, _>("edited")? != 0,
    })
}

/// The upsert of one model, `edited` as given.
async fn put_model<'e, E>(exec: E, m: &Model, edited: bool) -> Result<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let p = &m.prices;
    let above = p.above.map(|(_, s)| s);
    let opt = |v: Option<Price>| v.map(|p| p.0);
    let to_i64 = |v: Option<u64>| v.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
    let placeholders: Vec<String> = (1..=26).map(|i| format!("${i}")).collect();
    let updates: Vec<String> = MODEL_COLUMNS
        .split(", ")
        .map(str::trim)
        .filter(|c| *c != "provider" && *c != "model")
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    let sql = format!(
        "INSERT INTO models ({MODEL_COLUMNS}) VALUES ({}) ON CONFLICT (provider, model) DO UPDATE SET {}",
        placeholders.join(", "),
        updates.join(", ")
    );
    sqlx::query(&sql)
        .bind(&m.provider)
        .bind(&m.id)
        .bind(&m.display_name)
        .bind(p.base.input.0)
        .bind(p.base.output.0)
        .bind(opt(p.base.cache_read))
        .bind(opt(p.base.cache_write))
        .bind(opt(p.base.reasoning))
        .bind(to_i64(p.above.map(|(t, _)| t)))
        .bind(above.map(|s| s.input.0))
        .bind(above.map(|s| s.output.0))
        .bind(opt(above.and_then(|s| s.cache_read)))
        .bind(opt(above.and_then(|s| s.cache_write)))
        .bind(opt(above.and_then(|s| s.reasoning)))
        .bind(to_i64(m.context_window))
        .bind(to_i64(m.max_output))
        .bind(serde_json::to_string(&m.modalities).unwrap_or_default())
        .bind(serde_json::to_string(&m.capabilities).unwrap_or_default())
        .bind(m.status.name())
        .bind(&m.deprecated_on)
        .bind(&m.replaced_by)
        .bind(&m.source)
        .bind(i64::from(edited))
        .bind(now_ms())
        .bind(opt(p.base.cache_write_1h))
        .bind(opt(above.and_then(|s| s.cache_write_1h)))
        .execute(exec)
        .await?;
    Ok(())
}

fn record_of(row: &AnyRow) -> Result<CallRecord> {
    let usage = concord::Usage {
        input_tokens: count(row, "input_tokens")?,
        output_tokens: count(row, "output_tokens")?,
        total_tokens: None,
        cache_read_tokens: count(row, "cache_read_tokens")?,
        cache_write_tokens: count(row, "cache_write_tokens")?,
        cache_write_1h_tokens: count(row, "cache_write_1h_tokens")?,
        reasoning_tokens: count(row, "reasoning_tokens")?,
    };
    let usage = concord::Usage {
        total_tokens: concord::Usage::new(usage.input_tokens, usage.output_tokens).total_tokens,
        ..usage
    };
    let prices: Option<String> = row.try_get("prices")?;
    Ok(CallRecord {
        id: row.try_get("id")?,
        at_ms: row.try_get("at")?,
        tenant: row.try_get("tenant")?,
        provider: row.try_get("provider")?,
        model: row.try_get("model")?,
        stream: row.try_get::<i64, _>("stream")? != 0,
        outcome: row.try_get("outcome")?,
        latency_ms: row.try_get("latency_ms")?,
        usage,
        cost: row.try_get::<Option<i64>, _>("cost")?.map(Money),
        prices: prices
            .map(|p| serde_json::from_str(&p))
            .transpose()
            .map_err(|e| Error::Database(format!("prices: {e}")))?,
    })
}

impl Store for SqlStore {
    fn models(&self) -> BoxFuture<'_, Result<Vec<Model>>> {
        Box::pin(async move {
            let rows = sqlx::query(&format!(
                "SELECT {MODEL_COLUMNS} FROM models ORDER BY provider, model"
            ))
            .fetch_all(&self.pool)
            .await?;
            rows.iter().map(model_of).collect()
        })
    }

    fn save_model<'a>(&'a self, model: &'a Model) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move { put_model(&self.pool, model, true).await })
    }

    fn import<'a>(
        &'a self,
        models: &'a [Model],
        overwrite: bool,
    ) -> BoxFuture<'a, Result<ImportReport>> {
        Box::pin(async move {
            let mut tx = self.pool.begin().await?;
            let rows = sqlx::query(&format!("SELECT {MODEL_COLUMNS} FROM models"))
                .fetch_all(&mut *tx)
                .await?;
            let existing: std::collections::HashMap<(String, String), Model> = rows
                .iter()
                .map(|r| model_of(r).map(|m| ((m.provider.clone(), m.id.clone()), m)))
                .collect::<Result<_>>()?;
            let mut report = ImportReport::default();
            for m in models {
                match existing.get(&(m.provider.clone(), m.id.clone())) {
                    None => {
                        report.added += 1;
                        report.deprecated += usize::from(m.status == Status::Deprecated);
                        put_model(&mut *tx, m, false).await?;
                    }
                    Some(old) if old.edited && !overwrite => report.kept += 1,
                    Some(old) if same(old, m) => report.unchanged += 1,
                    Some(old) => {
                        report.updated += 1;
                        report.deprecated += usize::from(
                            m.status == Status::Deprecated && old.status != Status::Deprecated,
                        );
                        put_model(&mut *tx, m, false).await?;
                    }
                }
            }
            tx.commit().await?;
            Ok(report)
        })
    }

    fn settings(&self) -> BoxFuture<'_, Result<Vec<(String, String)>>> {
        Box::pin(async move {
            let rows = sqlx::query("SELECT key, value FROM settings ORDER BY key")
                .fetch_all(&self.pool)
                .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("key")?, r.try_get("value")?)))
                .collect()
        })
    }

    fn set_setting<'a>(&'a self, key: &'a str, value: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(key)
            .bind(value)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
            Ok(())
        })
    }

    fn limits(&self) -> BoxFuture<'_, Result<Vec<ProviderLimits>>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT name, requests_per_minute, tokens_per_minute, max_parallel FROM providers ORDER BY name",
            )
            .fetch_all(&self.pool)
            .await?;
            let n = |r: &AnyRow, c: &str| -> Result<Option<u32>> {
                Ok(r.try_get::<Option<i64>, _>(c)?
                    .map(|v| u32::try_from(v.max(0)).unwrap_or(u32::MAX)))
            };
            rows.iter()
                .map(|r| {
                    Ok(ProviderLimits {
                        provider: r.try_get("name")?,
                        requests_per_minute: n(r, "requests_per_minute")?,
                        tokens_per_minute: n(r, "tokens_per_minute")?,
                        max_parallel: n(r, "max_parallel")?,
                    })
                })
                .collect()
        })
    }

    fn set_limits<'a>(&'a self, l: &'a ProviderLimits) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO providers (name, requests_per_minute, tokens_per_minute, max_parallel, updated_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET \
                 requests_per_minute = excluded.requests_per_minute, \
                 tokens_per_minute = excluded.tokens_per_minute, \
                 max_parallel = excluded.max_parallel, updated_at = excluded.updated_at",
            )
            .bind(&l.provider)
            .bind(l.requests_per_minute.map(i64::from))
            .bind(l.tokens_per_minute.map(i64::from))
            .bind(l.max_parallel.map(i64::from))
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
            Ok(())
        })
    }

    fn record_all<'a>(&'a self, calls: &'a [CallRecord]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let n = |v: Option<u64>| v.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
            // One transaction for the lot: a commit (an fsync) per batch, not per call.
            let mut tx = self.pool.begin().await?;
            for c in calls {
                sqlx::query(
                    "INSERT INTO calls (id, at, tenant, provider, model, stream, outcome, latency_ms, \
                     input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, \
                     cost, prices, cache_write_1h_tokens) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                )
                .bind(&c.id)
                .bind(c.at_ms)
                .bind(&c.tenant)
                .bind(&c.provider)
                .bind(&c.model)
                .bind(i64::from(c.stream))
                .bind(&c.outcome)
                .bind(c.latency_ms)
                .bind(n(c.usage.input_tokens))
                .bind(n(c.usage.output_tokens))
                .bind(n(c.usage.cache_read_tokens))
                .bind(n(c.usage.cache_write_tokens))
                .bind(n(c.usage.reasoning_tokens))
                .bind(c.cost.map(|m| m.0))
                .bind(c.prices.map(|p| serde_json::to_string(&p).unwrap_or_default()))
                .bind(n(c.usage.cache_write_1h_tokens))
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn calls(&self, since_ms: i64) -> BoxFuture<'_, Result<Vec<CallRecord>>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT id, at, tenant, provider, model, stream, outcome, latency_ms, input_tokens, \
                 output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost, prices, \
                 cache_write_1h_tokens \
                 FROM calls WHERE at >= $1 ORDER BY at, id",
            )
            .bind(since_ms)
            .fetch_all(&self.pool)
            .await?;
            rows.iter().map(record_of).collect()
        })
    }

    fn spent<'a>(&'a self, tenant: &'a str, since_ms: i64) -> BoxFuture<'a, Result<Money>> {
        Box::pin(async move {
            // Postgres sums BIGINT as NUMERIC; the cast keeps one type for both databases.
            let total: i64 = sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(cost), 0) AS BIGINT) FROM calls WHERE tenant = $1 AND at >= $2",
            )
            .bind(tenant)
            .bind(since_ms)
            .fetch_one(&self.pool)
            .await?;
            Ok(Money(total))
        })
    }
}

/// Whether an import brings nothing new for a row (its bookkeeping aside).
fn same(old: &Model, new: &Model) -> bool {
    Model {
        edited: old.edited,
        source: old.source.clone(),
        ..new.clone()
    } == *old
}
