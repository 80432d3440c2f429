DROP TRIGGER sources_names_ad;
DROP TRIGGER sources_names_au;
DROP TRIGGER sources_names_ai;
DROP TRIGGER agents_names_ad;
DROP TRIGGER agents_names_au;
DROP TRIGGER agents_names_ai;
DROP TRIGGER source_documents_au;
DROP TRIGGER source_documents_ad;
DROP TRIGGER source_documents_ai;
DROP TRIGGER agent_documents_au;
DROP TRIGGER agent_documents_ad;
DROP TRIGGER agent_documents_ai;
DROP TABLE sources_fts;
DROP TABLE source_documents;
DROP TABLE agents_fts;
DROP TABLE agent_documents;

DROP INDEX attributions_by_cited_source;
CREATE INDEX attributions_by_cited_source ON attributions (cited_source_id);
DROP INDEX attributions_by_claim;
CREATE INDEX attributions_by_claim ON attributions (claim_id, source_id, speaker_id);

DROP TRIGGER claims_stated_on_ai;
DROP TRIGGER sources_stated_on_au;
DROP TRIGGER attributions_stated_on_ad;
DROP TRIGGER attributions_stated_on_au;
DROP TRIGGER attributions_stated_on_ai;
DROP INDEX claims_by_stated_on;
ALTER TABLE claims DROP COLUMN stated_on;

DROP TRIGGER claim_documents_ai;
DROP TRIGGER claim_documents_ad;
DROP TRIGGER claim_documents_au;
DROP TRIGGER claims_search_ai;
DROP TRIGGER claims_search_au;
DROP TRIGGER attributions_search_ai;
DROP TRIGGER attributions_search_au;
DROP TRIGGER attributions_search_ad;
DROP TABLE claims_fts;
ALTER TABLE claim_documents DROP COLUMN stems;
ALTER TABLE claim_documents DROP COLUMN language;

CREATE VIRTUAL TABLE claims_fts USING fts5 (
    text, subject, quotes, facets,
    content = 'claim_documents', content_rowid = 'doc',
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO claims_fts (claims_fts, rank) VALUES ('rank', 'bm25(1.0, 1.0, 1.0, 0.0)');
INSERT INTO claims_fts (claims_fts) VALUES ('rebuild');

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
CREATE TRIGGER claims_search_au AFTER UPDATE OF id, text, subject ON claims
WHEN old.id IS NOT new.id OR old.text IS NOT new.text OR old.subject IS NOT new.subject BEGIN
    UPDATE claim_documents SET claim_id = new.id, text = new.text, subject = new.subject WHERE claim_id = old.id;
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

ALTER TABLE agents DROP COLUMN aliases;
