-- The model database. Written once for SQLite and Postgres alike: TEXT and BIGINT only
-- (booleans as 0/1, times as Unix milliseconds, money as integer picodollars), keys chosen by
-- the program (no auto-increment, which the two spell differently).

-- A provider's limits, under its registered name. How a provider is reached (its type, base
-- URL, credential reference) is the registry's alone — the configuration file, the environment,
-- plugins — so it is not kept here twice.
CREATE TABLE providers (
    name TEXT PRIMARY KEY,
    requests_per_minute BIGINT,
    tokens_per_minute BIGINT,
    max_parallel BIGINT,
    updated_at BIGINT NOT NULL
);

CREATE TABLE models (
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    display_name TEXT,
    -- Prices in picodollars per token (= microdollars per million tokens).
    input_price BIGINT NOT NULL,
    output_price BIGINT NOT NULL,
    cache_read_price BIGINT,
    cache_write_price BIGINT,
    reasoning_price BIGINT,
    -- A prompt of more than above_threshold tokens is priced by the above_* prices.
    above_threshold BIGINT,
    above_input_price BIGINT,
    above_output_price BIGINT,
    above_cache_read_price BIGINT,
    above_cache_write_price BIGINT,
    above_reasoning_price BIGINT,
    context_window BIGINT,
    max_output BIGINT,
    -- JSON lists.
    modalities TEXT NOT NULL,
    capabilities TEXT NOT NULL,
    -- 'active', 'deprecated' (works, warns), 'inactive' (refused).
    status TEXT NOT NULL,
    deprecated_on TEXT,
    replaced_by TEXT,
    -- Where the row came from: the snapshot, an import file, or 'manual'.
    source TEXT NOT NULL,
    -- 1 when a person changed it: an import keeps it unless told to overwrite.
    edited BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (provider, model)
);

-- Deployment settings as JSON values: `default.<purpose>` is the default model of a purpose.
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One row per call, with the prices used: a later price edit never changes an old record.
CREATE TABLE calls (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    tenant TEXT,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    stream BIGINT NOT NULL,
    -- 'ok', or the error kind.
    outcome TEXT NOT NULL,
    latency_ms BIGINT NOT NULL,
    input_tokens BIGINT,
    output_tokens BIGINT,
    cache_read_tokens BIGINT,
    cache_write_tokens BIGINT,
    reasoning_tokens BIGINT,
    -- Picodollars; NULL when the usage never came (no cost is invented).
    cost BIGINT,
    -- The price snapshot, JSON.
    prices TEXT
);

CREATE INDEX calls_at ON calls (at);
CREATE INDEX calls_tenant_at ON calls (tenant, at);
