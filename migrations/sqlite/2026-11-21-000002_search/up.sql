-- Full-text search over claims, and the indexes that let every list filter
-- and sort of GET /v1/claims seek instead of scanning.
--
-- A claim's search document is its text, its subject and the quotes
-- (`quote_exact`) of all its attributions, joined in attribution order
-- (group_concat over an ordered subquery rather than the newer
-- `group_concat(.. ORDER BY ..)`, so that older sqlite3 shells can still
-- open the database).
-- `claim_documents` holds that document under an integer key, because FTS5
-- needs an integer rowid and claims are keyed by text; `claims_fts` indexes
-- it as an external-content FTS5 table. Triggers keep both in step with
-- every write to claims and attributions, inside the writing transaction.
-- Documents are numbered in insertion order, which for claims is creation
-- order.

CREATE TABLE claim_documents (
    doc INTEGER PRIMARY KEY,
    claim_id TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    subject TEXT,
    quotes TEXT
);

-- remove_diacritics 2 makes "Menaka" find "Ménaka"; PostgreSQL's side
-- unaccents the same way.
CREATE VIRTUAL TABLE claims_fts USING fts5 (
    text, subject, quotes,
    content = 'claim_documents', content_rowid = 'doc',
    tokenize = 'unicode61 remove_diacritics 2'
);

-- The documented external-content pattern: the index is told the old
-- values of a document to forget it.
CREATE TRIGGER claim_documents_ai AFTER INSERT ON claim_documents BEGIN
    INSERT INTO claims_fts (rowid, text, subject, quotes) VALUES (new.doc, new.text, new.subject, new.quotes);
END;
CREATE TRIGGER claim_documents_ad AFTER DELETE ON claim_documents BEGIN
    INSERT INTO claims_fts (claims_fts, rowid, text, subject, quotes)
    VALUES ('delete', old.doc, old.text, old.subject, old.quotes);
END;
CREATE TRIGGER claim_documents_au AFTER UPDATE ON claim_documents BEGIN
    INSERT INTO claims_fts (claims_fts, rowid, text, subject, quotes)
    VALUES ('delete', old.doc, old.text, old.subject, old.quotes);
    INSERT INTO claims_fts (rowid, text, subject, quotes) VALUES (new.doc, new.text, new.subject, new.quotes);
END;

CREATE TRIGGER claims_search_ai AFTER INSERT ON claims BEGIN
    INSERT INTO claim_documents (claim_id, text, subject, quotes)
    VALUES (
        new.id, new.text, new.subject,
        (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = new.id ORDER BY a.created_at, a.id))
    );
END;
CREATE TRIGGER claims_search_au AFTER UPDATE OF id, text, subject ON claims
WHEN old.id IS NOT new.id OR old.text IS NOT new.text OR old.subject IS NOT new.subject BEGIN
    UPDATE claim_documents SET claim_id = new.id, text = new.text, subject = new.subject WHERE claim_id = old.id;
END;
CREATE TRIGGER claims_search_ad AFTER DELETE ON claims BEGIN
    DELETE FROM claim_documents WHERE claim_id = old.id;
END;

CREATE TRIGGER attributions_search_ai AFTER INSERT ON attributions WHEN new.quote_exact IS NOT NULL BEGIN
    UPDATE claim_documents
    SET quotes = (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = new.claim_id ORDER BY a.created_at, a.id))
    WHERE claim_id = new.claim_id;
END;
CREATE TRIGGER attributions_search_au AFTER UPDATE OF claim_id, quote_exact, created_at ON attributions
WHEN old.claim_id IS NOT new.claim_id OR old.quote_exact IS NOT new.quote_exact OR old.created_at IS NOT new.created_at BEGIN
    UPDATE claim_documents
    SET quotes = (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = old.claim_id ORDER BY a.created_at, a.id))
    WHERE claim_id = old.claim_id;
    UPDATE claim_documents
    SET quotes = (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = new.claim_id ORDER BY a.created_at, a.id))
    WHERE claim_id = new.claim_id AND new.claim_id IS NOT old.claim_id;
END;
CREATE TRIGGER attributions_search_ad AFTER DELETE ON attributions WHEN old.quote_exact IS NOT NULL BEGIN
    UPDATE claim_documents
    SET quotes = (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = old.claim_id ORDER BY a.created_at, a.id))
    WHERE claim_id = old.claim_id;
END;

-- Claims that exist already get their documents, oldest first.
INSERT INTO claim_documents (claim_id, text, subject, quotes)
SELECT c.id, c.text, c.subject,
    (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = c.id ORDER BY a.created_at, a.id))
FROM claims c
ORDER BY c.created_at, c.id;

-- Sorts: `created_at` has claims_by_created already; `period_start` sorts
-- and the upper bound of the period filter use this one.
CREATE INDEX claims_by_period_start ON claims (period_start, id);

-- Equality filters, each followed by the default sort so that "filter,
-- newest first" reads a page straight off the index.
CREATE INDEX claims_by_kind ON claims (kind, created_at, id);
CREATE INDEX claims_by_status ON claims (status, created_at, id);
CREATE INDEX claims_by_place ON claims (place, created_at, id);
CREATE INDEX claims_by_unit ON claims (quantity_unit, quantity_value);
CREATE INDEX claims_by_value ON claims (quantity_value);

-- The source, speaker and publisher filters read claim ids straight from
-- these indexes (covering), without visiting the attribution rows: by
-- source or speaker when they pick the claims, by claim when they check a
-- claim picked otherwise.
DROP INDEX attributions_by_claim;
CREATE INDEX attributions_by_claim ON attributions (claim_id, source_id, speaker_id);
DROP INDEX attributions_by_source;
CREATE INDEX attributions_by_source ON attributions (source_id, claim_id);
DROP INDEX attributions_by_speaker;
CREATE INDEX attributions_by_speaker ON attributions (speaker_id, claim_id);
DROP INDEX sources_by_publisher;
CREATE INDEX sources_by_publisher ON sources (publisher_id, id);
