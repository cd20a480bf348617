-- The server's tenants, in the model database's database (its own migrations table,
-- concord_server_migrations). TEXT and BIGINT only, for SQLite and Postgres alike.

CREATE TABLE tenants (
    name TEXT PRIMARY KEY,
    -- 1: every key is refused with 403 until enabled again.
    disabled BIGINT NOT NULL,
    -- `provider/model` a call that names no model gets; NULL: the deployment's default.
    default_model TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE tenant_keys (
    -- SHA-256 of the key, hex. The key itself is shown once, at creation, and never kept.
    hash TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    -- The key's last four characters, to tell keys apart in a listing.
    hint TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX tenant_keys_tenant ON tenant_keys (tenant);
