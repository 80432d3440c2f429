DROP TABLE idempotency_keys;
ALTER TABLE api_keys DROP COLUMN last_used_at;
ALTER TABLE api_keys DROP COLUMN revoked_at;
DROP TABLE revisions;
