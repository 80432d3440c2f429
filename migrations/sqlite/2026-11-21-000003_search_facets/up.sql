-- Facets in the SQLite search index: a fourth field of each claim's search
-- document, `facets`, holds one token per tag (`t` + hex of the tag),
-- source (`s` + id), speaker (`k` + id) and publisher (`p` + id) of the
-- claim, so that a search combined with those filters is one full-text
-- query: FTS5 intersects the word's and the facet's posting lists instead
-- of every match being checked against the tables. Searches for what users
-- type never look at `facets`, and it weighs nothing in the ranking.
--
-- FTS5 tables cannot gain a column, so the index is dropped, the facets
-- filled in, and the index rebuilt from `claim_documents`; the triggers are
-- replaced by ones that also keep the facets, now on tags and sources'
-- publishers too.

DROP TRIGGER claim_documents_ai;
DROP TRIGGER claim_documents_ad;
DROP TRIGGER claim_documents_au;
DROP TRIGGER claims_search_ai;
DROP TRIGGER attributions_search_ai;
DROP TRIGGER attributions_search_au;
DROP TRIGGER attributions_search_ad;
DROP TABLE claims_fts;

ALTER TABLE claim_documents ADD COLUMN facets TEXT;
UPDATE claim_documents SET facets = (
            coalesce((SELECT group_concat('t' || hex(t.tag), ' ') FROM claim_tags t WHERE t.claim_id = claim_documents.claim_id), '')
            || ' ' || coalesce((SELECT group_concat('s' || replace(a.source_id, '-', '') || coalesce(' k' || replace(a.speaker_id, '-', ''), ''), ' ')
                FROM attributions a WHERE a.claim_id = claim_documents.claim_id), '')
            || ' ' || coalesce((SELECT group_concat('p' || replace(s.publisher_id, '-', ''), ' ')
                FROM attributions a JOIN sources s ON s.id = a.source_id WHERE a.claim_id = claim_documents.claim_id), ''));

CREATE VIRTUAL TABLE claims_fts USING fts5 (
    text, subject, quotes, facets,
    content = 'claim_documents', content_rowid = 'doc',
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Relevance is BM25 over the words; facets weigh nothing.
INSERT INTO claims_fts (claims_fts, rank) VALUES ('rank', 'bm25(1.0, 1.0, 1.0, 0.0)');

INSERT INTO claims_fts (claims_fts) VALUES ('rebuild');

-- The documented external-content pattern: the index is told the old
-- values of a document to forget it.
CREATE TRIGGER claim_documents_ai AFTER INSERT ON claim_documents BEGIN
    INSERT INTO claims_fts (rowid, text, subject, quotes, facets)
    VALUES (new.doc, new.text, new.subject, new.quotes, new.facets);
END;
CREATE TRIGGER claim_documents_ad AFTER DELETE ON claim_documents BEGIN
    INSERT INTO claims_fts (claims_fts, rowid, text, subject, quotes, facets)
    VALUES ('delete', old.doc, old.text, old.subject, old.quotes, old.facets);
END;
CREATE TRIGGER claim_documents_au AFTER UPDATE ON claim_documents
WHEN old.text IS NOT new.text OR old.subject IS NOT new.subject OR old.quotes IS NOT new.quotes
    OR old.facets IS NOT new.facets BEGIN
    INSERT INTO claims_fts (claims_fts, rowid, text, subject, quotes, facets)
    VALUES ('delete', old.doc, old.text, old.subject, old.quotes, old.facets);
    INSERT INTO claims_fts (rowid, text, subject, quotes, facets)
    VALUES (new.doc, new.text, new.subject, new.quotes, new.facets);
END;

CREATE TRIGGER claims_search_ai AFTER INSERT ON claims BEGIN
    INSERT INTO claim_documents (claim_id, text, subject, quotes, facets)
    VALUES (
        new.id, new.text, new.subject,
        (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = new.id ORDER BY a.created_at, a.id)),
        (
            coalesce((SELECT group_concat('t' || hex(t.tag), ' ') FROM claim_tags t WHERE t.claim_id = new.id), '')
            || ' ' || coalesce((SELECT group_concat('s' || replace(a.source_id, '-', '') || coalesce(' k' || replace(a.speaker_id, '-', ''), ''), ' ')
                FROM attributions a WHERE a.claim_id = new.id), '')
            || ' ' || coalesce((SELECT group_concat('p' || replace(s.publisher_id, '-', ''), ' ')
                FROM attributions a JOIN sources s ON s.id = a.source_id WHERE a.claim_id = new.id), ''))
    );
END;

CREATE TRIGGER claim_tags_search_ai AFTER INSERT ON claim_tags BEGIN
    UPDATE claim_documents SET facets = (
            coalesce((SELECT group_concat('t' || hex(t.tag), ' ') FROM claim_tags t WHERE t.claim_id = new.claim_id), '')
            || ' ' || coalesce((SELECT group_concat('s' || replace(a.source_id, '-', '') || coalesce(' k' || replace(a.speaker_id, '-', ''), ''), ' ')
                FROM attributions a WHERE a.claim_id = new.claim_id), '')
            || ' ' || coalesce((SELECT group_concat('p' || replace(s.publisher_id, '-', ''), ' ')
                FROM attributions a JOIN sources s ON s.id = a.source_id WHERE a.claim_id = new.claim_id), ''))
    WHERE claim_id = new.claim_id;
END;
CREATE TRIGGER claim_tags_search_ad AFTER DELETE ON claim_tags BEGIN
    UPDATE claim_documents SET facets = (
            coalesce((SELECT group_concat('t' || hex(t.tag), ' ') FROM claim_tags t WHERE t.claim_id = old.claim_id), '')
            || ' ' || coalesce((SELECT group_concat('s' || replace(a.source_id, '-', '') || coalesce(' k' || replace(a.speaker_id, '-', ''), ''), ' ')
                FROM attributions a WHERE a.claim_id = old.claim_id), '')
            || ' ' || coalesce((SELECT group_concat('p' || replace(s.publisher_id, '-', ''), ' ')
                FROM attributions a JOIN sources s ON s.id = a.source_id WHERE a.claim_id = old.claim_id), ''))
    WHERE claim_id = old.claim_id;
END;

CREATE TRIGGER attributions_search_ai AFTER INSERT ON attributions BEGIN
    UPDATE claim_documents
    SET quotes = (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = new.claim_id ORDER BY a.created_at, a.id)),
        facets = (
            coalesce((SELECT group_concat('t' || hex(t.tag), ' ') FROM claim_tags t WHERE t.claim_id = new.claim_id), '')
            || ' ' || coalesce((SELECT group_concat('s' || replace(a.source_id, '-', '') || coalesce(' k' || replace(a.speaker_id, '-', ''), ''), ' ')
                FROM attributions a WHERE a.claim_id = new.claim_id), '')
            || ' ' || coalesce((SELECT group_concat('p' || replace(s.publisher_id, '-', ''), ' ')
                FROM attributions a JOIN sources s ON s.id = a.source_id WHERE a.claim_id = new.claim_id), ''))
    WHERE claim_id = new.claim_id;
END;
CREATE TRIGGER attributions_search_au AFTER UPDATE OF claim_id, source_id, speaker_id, quote_exact, created_at ON attributions
WHEN old.claim_id IS NOT new.claim_id OR old.source_id IS NOT new.source_id OR old.speaker_id IS NOT new.speaker_id
    OR old.quote_exact IS NOT new.quote_exact OR old.created_at IS NOT new.created_at BEGIN
    UPDATE claim_documents
    SET quotes = (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = old.claim_id ORDER BY a.created_at, a.id)),
        facets = (
            coalesce((SELECT group_concat('t' || hex(t.tag), ' ') FROM claim_tags t WHERE t.claim_id = old.claim_id), '')
            || ' ' || coalesce((SELECT group_concat('s' || replace(a.source_id, '-', '') || coalesce(' k' || replace(a.speaker_id, '-', ''), ''), ' ')
                FROM attributions a WHERE a.claim_id = old.claim_id), '')
            || ' ' || coalesce((SELECT group_concat('p' || replace(s.publisher_id, '-', ''), ' ')
                FROM attributions a JOIN sources s ON s.id = a.source_id WHERE a.claim_id = old.claim_id), ''))
    WHERE claim_id = old.claim_id;
    UPDATE claim_documents
    SET quotes = (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = new.claim_id ORDER BY a.created_at, a.id)),
        facets = (
            coalesce((SELECT group_concat('t' || hex(t.tag), ' ') FROM claim_tags t WHERE t.claim_id = new.claim_id), '')
            || ' ' || coalesce((SELECT group_concat('s' || replace(a.source_id, '-', '') || coalesce(' k' || replace(a.speaker_id, '-', ''), ''), ' ')
                FROM attributions a WHERE a.claim_id = new.claim_id), '')
            || ' ' || coalesce((SELECT group_concat('p' || replace(s.publisher_id, '-', ''), ' ')
                FROM attributions a JOIN sources s ON s.id = a.source_id WHERE a.claim_id = new.claim_id), ''))
    WHERE claim_id = new.claim_id AND new.claim_id IS NOT old.claim_id;
END;
CREATE TRIGGER attributions_search_ad AFTER DELETE ON attributions BEGIN
    UPDATE claim_documents
    SET quotes = (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = old.claim_id ORDER BY a.created_at, a.id)),
        facets = (
            coalesce((SELECT group_concat('t' || hex(t.tag), ' ') FROM claim_tags t WHERE t.claim_id = old.claim_id), '')
            || ' ' || coalesce((SELECT group_concat('s' || replace(a.source_id, '-', '') || coalesce(' k' || replace(a.speaker_id, '-', ''), ''), ' ')
                FROM attributions a WHERE a.claim_id = old.claim_id), '')
            || ' ' || coalesce((SELECT group_concat('p' || replace(s.publisher_id, '-', ''), ' ')
                FROM attributions a JOIN sources s ON s.id = a.source_id WHERE a.claim_id = old.claim_id), ''))
    WHERE claim_id = old.claim_id;
END;

-- A source changing hands changes the publisher facet of its claims.
CREATE TRIGGER sources_search_au AFTER UPDATE OF publisher_id ON sources
WHEN old.publisher_id IS NOT new.publisher_id BEGIN
    UPDATE claim_documents SET facets = (
            coalesce((SELECT group_concat('t' || hex(t.tag), ' ') FROM claim_tags t WHERE t.claim_id = claim_documents.claim_id), '')
            || ' ' || coalesce((SELECT group_concat('s' || replace(a.source_id, '-', '') || coalesce(' k' || replace(a.speaker_id, '-', ''), ''), ' ')
                FROM attributions a WHERE a.claim_id = claim_documents.claim_id), '')
            || ' ' || coalesce((SELECT group_concat('p' || replace(s.publisher_id, '-', ''), ' ')
                FROM attributions a JOIN sources s ON s.id = a.source_id WHERE a.claim_id = claim_documents.claim_id), ''))
    WHERE claim_id IN (SELECT claim_id FROM attributions WHERE source_id = new.id);
END;
