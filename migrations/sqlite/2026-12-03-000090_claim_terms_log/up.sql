-- The documents whose terms changed, in the order they changed: a server
-- that keeps posting lists in memory (src/db/postings.rs) carries them
-- over a commit by reading again only these documents' rows of
-- `claim_terms`, instead of reading each list whole (about a second of a
-- core for a word in most claims at a million claims).
--
-- `seq` only grows (AUTOINCREMENT: a number is never used twice, even
-- after the rows before it are dropped). Only the last 4,096 rows are
-- kept; lists older than that are read again whole. A bulk write that
-- fills `claim_terms` again whole writes one row with `doc` -1: every
-- document changed.
CREATE TABLE claim_terms_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    doc INTEGER NOT NULL
);

CREATE TRIGGER claim_terms_log_ai AFTER INSERT ON claim_terms_log BEGIN
    DELETE FROM claim_terms_log WHERE seq <= new.seq - 4096;
END;

CREATE TRIGGER claim_documents_log_ai AFTER INSERT ON claim_documents
WHEN NOT EXISTS (SELECT 1 FROM claim_terms_paused) BEGIN
    INSERT INTO claim_terms_log (doc) VALUES (new.doc);
END;
CREATE TRIGGER claim_documents_log_ad AFTER DELETE ON claim_documents
WHEN NOT EXISTS (SELECT 1 FROM claim_terms_paused) BEGIN
    INSERT INTO claim_terms_log (doc) VALUES (old.doc);
END;
CREATE TRIGGER claim_documents_log_au AFTER UPDATE ON claim_documents
WHEN (old.text IS NOT new.text OR old.subject IS NOT new.subject OR old.quotes IS NOT new.quotes
    OR old.facets IS NOT new.facets OR old.stems IS NOT new.stems OR old.doc IS NOT new.doc)
    AND NOT EXISTS (SELECT 1 FROM claim_terms_paused) BEGIN
    INSERT INTO claim_terms_log (doc) VALUES (old.doc);
    INSERT INTO claim_terms_log (doc) SELECT new.doc WHERE new.doc IS NOT old.doc;
END;
