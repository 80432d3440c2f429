DROP TRIGGER sources_search_au;
DROP TRIGGER claim_tags_search_ad;
DROP TRIGGER claim_tags_search_ai;
DROP TRIGGER attributions_search_ad;
DROP TRIGGER attributions_search_au;
DROP TRIGGER attributions_search_ai;
DROP TRIGGER claims_search_ai;
DROP TRIGGER claim_documents_au;
DROP TRIGGER claim_documents_ad;
DROP TRIGGER claim_documents_ai;
DROP TABLE claims_fts;
ALTER TABLE claim_documents DROP COLUMN facets;

CREATE VIRTUAL TABLE claims_fts USING fts5 (
    text, subject, quotes,
    content = 'claim_documents', content_rowid = 'doc',
    tokenize = 'unicode61 remove_diacritics 2'
);

INSERT INTO claims_fts (claims_fts) VALUES ('rebuild');

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
