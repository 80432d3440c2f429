-- Every change of a resource, in commit order: `seq` is taken just before
-- the writing transaction commits, under a transaction-scoped advisory
-- lock that writers take in turn, so a reader never sees a later change
-- before an earlier one, whatever the number of server instances.
CREATE TABLE revisions (
    seq BIGINT PRIMARY KEY NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    action TEXT NOT NULL,
    data TEXT,
    cause TEXT,
    actor TEXT NOT NULL,
    comment TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX revisions_by_resource ON revisions (resource_type, resource_id, version);
CREATE INDEX revisions_by_type ON revisions (resource_type, seq);

ALTER TABLE api_keys ADD COLUMN revoked_at TIMESTAMP;
ALTER TABLE api_keys ADD COLUMN last_used_at TIMESTAMP;

-- Responses to POSTs sent with an Idempotency-Key, per API key; `status`
-- is null while the first request is still being answered.
CREATE TABLE idempotency_keys (
    key_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_sha256 TEXT NOT NULL,
    status INTEGER,
    headers TEXT,
    body BYTEA,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (key_id, idempotency_key)
);
CREATE INDEX idempotency_keys_by_created ON idempotency_keys (created_at);
