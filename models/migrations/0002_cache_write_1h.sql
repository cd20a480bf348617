-- One-hour cache writes, priced apart from five-minute ones (Anthropic), and counted apart in
-- call records. NULL: the vendor does not split them (priced at the cache-write price).
ALTER TABLE models ADD COLUMN cache_write_1h_price BIGINT;
ALTER TABLE models ADD COLUMN above_cache_write_1h_price BIGINT;
ALTER TABLE calls ADD COLUMN cache_write_1h_tokens BIGINT;
