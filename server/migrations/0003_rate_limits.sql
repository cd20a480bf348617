-- A tenant's own rate limits: requests per minute and tokens per minute (NULL: none).
ALTER TABLE tenants ADD COLUMN rpm BIGINT;
ALTER TABLE tenants ADD COLUMN tpm BIGINT;
