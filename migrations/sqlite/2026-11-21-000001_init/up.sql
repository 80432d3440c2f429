-- Ids are UUIDs stored as text and times are UTC timestamps, the same on
-- SQLite and PostgreSQL, so one diesel schema serves both backends.

CREATE TABLE agents (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    anonymous BOOLEAN NOT NULL DEFAULT FALSE,
    affiliation_id TEXT REFERENCES agents (id),
    url TEXT,
    wikidata_id TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX agents_by_created ON agents (created_at, id);
CREATE INDEX agents_by_affiliation ON agents (affiliation_id);

CREATE TABLE sources (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    url TEXT,
    publisher_id TEXT REFERENCES agents (id),
    byline TEXT,
    published_on TEXT,
    language TEXT,
    content TEXT,
    content_sha256 TEXT,
    archived_url TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX sources_by_created ON sources (created_at, id);
CREATE INDEX sources_by_publisher ON sources (publisher_id);

CREATE TABLE claims (
    id TEXT PRIMARY KEY NOT NULL,
    text TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT,
    quantity_value DOUBLE PRECISION,
    quantity_upper DOUBLE PRECISION,
    quantity_unit TEXT,
    quantity_comparator TEXT,
    period_start TEXT,
    period_end TEXT,
    place TEXT,
    status TEXT NOT NULL,
    language TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX claims_by_created ON claims (created_at, id);

CREATE TABLE claim_tags (
    claim_id TEXT NOT NULL REFERENCES claims (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (claim_id, tag)
);
CREATE INDEX claim_tags_by_tag ON claim_tags (tag, claim_id);

CREATE TABLE attributions (
    id TEXT PRIMARY KEY NOT NULL,
    claim_id TEXT NOT NULL REFERENCES claims (id),
    source_id TEXT NOT NULL REFERENCES sources (id),
    speaker_id TEXT REFERENCES agents (id),
    mode TEXT NOT NULL,
    stance TEXT NOT NULL,
    cited_source_id TEXT REFERENCES sources (id),
    quote_exact TEXT,
    quote_prefix TEXT,
    quote_suffix TEXT,
    quote_status TEXT,
    quote_start INTEGER,
    quote_end INTEGER,
    locator TEXT,
    stated_on TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX attributions_by_created ON attributions (created_at, id);
CREATE INDEX attributions_by_claim ON attributions (claim_id);
CREATE INDEX attributions_by_source ON attributions (source_id);
CREATE INDEX attributions_by_speaker ON attributions (speaker_id);
CREATE INDEX attributions_by_cited_source ON attributions (cited_source_id);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    scope TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
