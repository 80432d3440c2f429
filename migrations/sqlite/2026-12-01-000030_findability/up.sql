-- Findability (issue 13): stemmed claim search, name search over agents
-- and sources, agents' aliases, a claim's `stated_on`, and the indexes of
-- the agent and source claim lists.
--
-- Every derived value here is kept by triggers inside the writing
-- transaction, as the search index is: the API, import, the seed loader
-- and the generator all write through the same tables.

-- Agents' other names ("JNIM"), a JSON array of strings.
ALTER TABLE agents ADD COLUMN aliases TEXT NOT NULL DEFAULT '[]';

-- ---------------------------------------------------------------------
-- Stemmed claim search. `stems` holds the English stems of the text, the
-- subject and the quotes (`claimtrail_stems`, a function the server
-- registers on each connection: Snowball's English stemmer, the one
-- PostgreSQL's `english` dictionary runs), for claims in English or of no
-- stated language; NULL otherwise, and those claims are found by their
-- words as written. A query matches a word as written in the text, subject
-- or quotes, or its stem in `stems`; BM25 weighs `stems` at half a word as
-- written, so exact forms rank above inflected ones.
--
-- FTS5 tables cannot gain a column: the index is dropped, the documents
-- filled in, and the index rebuilt, as in `search_facets`.

DROP TRIGGER claim_documents_ai;
DROP TRIGGER claim_documents_ad;
DROP TRIGGER claim_documents_au;
DROP TRIGGER claims_search_ai;
DROP TRIGGER claims_search_au;
DROP TRIGGER attributions_search_ai;
DROP TRIGGER attributions_search_au;
DROP TRIGGER attributions_search_ad;
DROP TABLE claims_fts;

ALTER TABLE claim_documents ADD COLUMN language TEXT;
ALTER TABLE claim_documents ADD COLUMN stems TEXT;
UPDATE claim_documents SET language = (SELECT c.language FROM claims c WHERE c.id = claim_documents.claim_id);
UPDATE claim_documents SET stems = claimtrail_stems(text, subject, quotes, language);

CREATE VIRTUAL TABLE claims_fts USING fts5 (
    text, subject, quotes, facets, stems,
    content = 'claim_documents', content_rowid = 'doc',
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO claims_fts (claims_fts, rank) VALUES ('rank', 'bm25(1.0, 1.0, 1.0, 0.0, 0.5)');
INSERT INTO claims_fts (claims_fts) VALUES ('rebuild');

CREATE TRIGGER claim_documents_ai AFTER INSERT ON claim_documents BEGIN
    INSERT INTO claims_fts (rowid, text, subject, quotes, facets, stems)
    VALUES (new.doc, new.text, new.subject, new.quotes, new.facets, new.stems);
END;
CREATE TRIGGER claim_documents_ad AFTER DELETE ON claim_documents BEGIN
    INSERT INTO claims_fts (claims_fts, rowid, text, subject, quotes, facets, stems)
    VALUES ('delete', old.doc, old.text, old.subject, old.quotes, old.facets, old.stems);
END;
CREATE TRIGGER claim_documents_au AFTER UPDATE ON claim_documents
WHEN old.text IS NOT new.text OR old.subject IS NOT new.subject OR old.quotes IS NOT new.quotes
    OR old.facets IS NOT new.facets OR old.stems IS NOT new.stems BEGIN
    INSERT INTO claims_fts (claims_fts, rowid, text, subject, quotes, facets, stems)
    VALUES ('delete', old.doc, old.text, old.subject, old.quotes, old.facets, old.stems);
    INSERT INTO claims_fts (rowid, text, subject, quotes, facets, stems)
    VALUES (new.doc, new.text, new.subject, new.quotes, new.facets, new.stems);
END;

CREATE TRIGGER claims_search_ai AFTER INSERT ON claims BEGIN
    INSERT INTO claim_documents (claim_id, text, subject, quotes, facets, language, stems)
    VALUES (
        new.id, new.text, new.subject,
        (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = new.id ORDER BY a.created_at, a.id)),
        (
            coalesce((SELECT group_concat('t' || hex(t.tag), ' ') FROM claim_tags t WHERE t.claim_id = new.id), '')
            || ' ' || coalesce((SELECT group_concat('s' || replace(a.source_id, '-', '') || coalesce(' k' || replace(a.speaker_id, '-', ''), ''), ' ')
                FROM attributions a WHERE a.claim_id = new.id), '')
            || ' ' || coalesce((SELECT group_concat('p' || replace(s.publisher_id, '-', ''), ' ')
                FROM attributions a JOIN sources s ON s.id = a.source_id WHERE a.claim_id = new.id), '')),
        new.language,
        claimtrail_stems(new.text, new.subject, (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = new.id ORDER BY a.created_at, a.id)), new.language)
    );
END;
CREATE TRIGGER claims_search_au AFTER UPDATE OF id, text, subject, language ON claims
WHEN old.id IS NOT new.id OR old.text IS NOT new.text OR old.subject IS NOT new.subject
    OR old.language IS NOT new.language BEGIN
    UPDATE claim_documents
    SET claim_id = new.id, text = new.text, subject = new.subject, language = new.language,
        stems = claimtrail_stems(new.text, new.subject, quotes, new.language)
    WHERE claim_id = old.id;
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
                FROM attributions a JOIN sources s ON s.id = a.source_id WHERE a.claim_id = new.claim_id), '')),
        stems = claimtrail_stems(text, subject, (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = new.claim_id ORDER BY a.created_at, a.id)), language)
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
                FROM attributions a JOIN sources s ON s.id = a.source_id WHERE a.claim_id = old.claim_id), '')),
        stems = claimtrail_stems(text, subject, (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = old.claim_id ORDER BY a.created_at, a.id)), language)
    WHERE claim_id = old.claim_id;
    UPDATE claim_documents
    SET quotes = (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = new.claim_id ORDER BY a.created_at, a.id)),
        facets = (
            coalesce((SELECT group_concat('t' || hex(t.tag), ' ') FROM claim_tags t WHERE t.claim_id = new.claim_id), '')
            || ' ' || coalesce((SELECT group_concat('s' || replace(a.source_id, '-', '') || coalesce(' k' || replace(a.speaker_id, '-', ''), ''), ' ')
                FROM attributions a WHERE a.claim_id = new.claim_id), '')
            || ' ' || coalesce((SELECT group_concat('p' || replace(s.publisher_id, '-', ''), ' ')
                FROM attributions a JOIN sources s ON s.id = a.source_id WHERE a.claim_id = new.claim_id), '')),
        stems = claimtrail_stems(text, subject, (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = new.claim_id ORDER BY a.created_at, a.id)), language)
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
                FROM attributions a JOIN sources s ON s.id = a.source_id WHERE a.claim_id = old.claim_id), '')),
        stems = claimtrail_stems(text, subject, (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = old.claim_id ORDER BY a.created_at, a.id)), language)
    WHERE claim_id = old.claim_id;
END;

-- ---------------------------------------------------------------------
-- A claim's `stated_on`: when it entered public discourse, the earliest
-- date of its attributions (an attribution's own `stated_on`, else its
-- source's `published_on`). Partial dates compare as text, as the period
-- sort does: "2012" < "2012-01" < "2012-01-05" < "2013".

ALTER TABLE claims ADD COLUMN stated_on TEXT;
UPDATE claims SET stated_on = (SELECT min(coalesce(a.stated_on, s.published_on)) FROM attributions a
        JOIN sources s ON s.id = a.source_id WHERE a.claim_id = claims.id);
CREATE INDEX claims_by_stated_on ON claims (stated_on, id);

CREATE TRIGGER attributions_stated_on_ai AFTER INSERT ON attributions BEGIN
    UPDATE claims SET stated_on = (SELECT min(coalesce(a.stated_on, s.published_on)) FROM attributions a
        JOIN sources s ON s.id = a.source_id WHERE a.claim_id = new.claim_id) WHERE id = new.claim_id;
END;
CREATE TRIGGER attributions_stated_on_au AFTER UPDATE OF claim_id, source_id, stated_on ON attributions
WHEN old.claim_id IS NOT new.claim_id OR old.source_id IS NOT new.source_id OR old.stated_on IS NOT new.stated_on BEGIN
    UPDATE claims SET stated_on = (SELECT min(coalesce(a.stated_on, s.published_on)) FROM attributions a
        JOIN sources s ON s.id = a.source_id WHERE a.claim_id = claims.id) WHERE id IN (old.claim_id, new.claim_id);
END;
CREATE TRIGGER attributions_stated_on_ad AFTER DELETE ON attributions BEGIN
    UPDATE claims SET stated_on = (SELECT min(coalesce(a.stated_on, s.published_on)) FROM attributions a
        JOIN sources s ON s.id = a.source_id WHERE a.claim_id = old.claim_id) WHERE id = old.claim_id;
END;
CREATE TRIGGER sources_stated_on_au AFTER UPDATE OF published_on ON sources
WHEN old.published_on IS NOT new.published_on BEGIN
    UPDATE claims SET stated_on = (SELECT min(coalesce(a.stated_on, s.published_on)) FROM attributions a
        JOIN sources s ON s.id = a.source_id WHERE a.claim_id = claims.id)
    WHERE id IN (SELECT claim_id FROM attributions WHERE source_id = new.id);
END;
-- A bulk load may write a claim's attributions before the claim.
CREATE TRIGGER claims_stated_on_ai AFTER INSERT ON claims
WHEN EXISTS (SELECT 1 FROM attributions WHERE claim_id = new.id) BEGIN
    UPDATE claims SET stated_on = (SELECT min(coalesce(a.stated_on, s.published_on)) FROM attributions a
        JOIN sources s ON s.id = a.source_id WHERE a.claim_id = new.id) WHERE id = new.id;
END;

-- ---------------------------------------------------------------------
-- The claims an agent or a source is behind: a claim is picked by the
-- cited source (and its publisher) as well, and checked per claim.

DROP INDEX attributions_by_claim;
CREATE INDEX attributions_by_claim ON attributions (claim_id, source_id, speaker_id, cited_source_id);
DROP INDEX attributions_by_cited_source;
CREATE INDEX attributions_by_cited_source ON attributions (cited_source_id, claim_id);

-- ---------------------------------------------------------------------
-- Name search: an FTS5 index over each agent's name, aliases and
-- description, and over each source's title, publisher name and URL, with
-- prefix indexes for what users type (`souf` finds "Soufan"). As for
-- claims, documents are keyed by an integer, which FTS5 needs.

CREATE TABLE agent_documents (
    doc INTEGER PRIMARY KEY,
    agent_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    aliases TEXT,
    description TEXT
);
CREATE VIRTUAL TABLE agents_fts USING fts5 (
    name, aliases, description,
    content = 'agent_documents', content_rowid = 'doc',
    tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
);
INSERT INTO agents_fts (agents_fts, rank) VALUES ('rank', 'bm25(10.0, 8.0, 1.0)');

CREATE TABLE source_documents (
    doc INTEGER PRIMARY KEY,
    source_id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    publisher TEXT,
    url TEXT
);
CREATE VIRTUAL TABLE sources_fts USING fts5 (
    title, publisher, url,
    content = 'source_documents', content_rowid = 'doc',
    tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
);
INSERT INTO sources_fts (sources_fts, rank) VALUES ('rank', 'bm25(10.0, 4.0, 2.0)');

CREATE TRIGGER agent_documents_ai AFTER INSERT ON agent_documents BEGIN
    INSERT INTO agents_fts (rowid, name, aliases, description) VALUES (new.doc, new.name, new.aliases, new.description);
END;
CREATE TRIGGER agent_documents_ad AFTER DELETE ON agent_documents BEGIN
    INSERT INTO agents_fts (agents_fts, rowid, name, aliases, description)
    VALUES ('delete', old.doc, old.name, old.aliases, old.description);
END;
CREATE TRIGGER agent_documents_au AFTER UPDATE ON agent_documents
WHEN old.name IS NOT new.name OR old.aliases IS NOT new.aliases OR old.description IS NOT new.description BEGIN
    INSERT INTO agents_fts (agents_fts, rowid, name, aliases, description)
    VALUES ('delete', old.doc, old.name, old.aliases, old.description);
    INSERT INTO agents_fts (rowid, name, aliases, description) VALUES (new.doc, new.name, new.aliases, new.description);
END;

CREATE TRIGGER source_documents_ai AFTER INSERT ON source_documents BEGIN
    INSERT INTO sources_fts (rowid, title, publisher, url) VALUES (new.doc, new.title, new.publisher, new.url);
END;
CREATE TRIGGER source_documents_ad AFTER DELETE ON source_documents BEGIN
    INSERT INTO sources_fts (sources_fts, rowid, title, publisher, url)
    VALUES ('delete', old.doc, old.title, old.publisher, old.url);
END;
CREATE TRIGGER source_documents_au AFTER UPDATE ON source_documents
WHEN old.title IS NOT new.title OR old.publisher IS NOT new.publisher OR old.url IS NOT new.url BEGIN
    INSERT INTO sources_fts (sources_fts, rowid, title, publisher, url)
    VALUES ('delete', old.doc, old.title, old.publisher, old.url);
    INSERT INTO sources_fts (rowid, title, publisher, url) VALUES (new.doc, new.title, new.publisher, new.url);
END;

CREATE TRIGGER agents_names_ai AFTER INSERT ON agents BEGIN
    INSERT INTO agent_documents (agent_id, name, aliases, description)
    VALUES (new.id, new.name, (SELECT group_concat(value, ' ') FROM json_each(new.aliases)), new.description);
    -- A bulk load may write a source before its publisher.
    UPDATE source_documents SET publisher = new.name
    WHERE source_id IN (SELECT id FROM sources WHERE publisher_id = new.id);
END;
CREATE TRIGGER agents_names_au AFTER UPDATE OF id, name, aliases, description ON agents
WHEN old.id IS NOT new.id OR old.name IS NOT new.name OR old.aliases IS NOT new.aliases
    OR old.description IS NOT new.description BEGIN
    UPDATE agent_documents
    SET agent_id = new.id, name = new.name, description = new.description,
        aliases = (SELECT group_concat(value, ' ') FROM json_each(new.aliases))
    WHERE agent_id = old.id;
    UPDATE source_documents SET publisher = new.name
    WHERE old.name IS NOT new.name AND source_id IN (SELECT id FROM sources WHERE publisher_id = new.id);
END;
CREATE TRIGGER agents_names_ad AFTER DELETE ON agents BEGIN
    DELETE FROM agent_documents WHERE agent_id = old.id;
END;

CREATE TRIGGER sources_names_ai AFTER INSERT ON sources BEGIN
    INSERT INTO source_documents (source_id, title, publisher, url)
    VALUES (new.id, new.title, (SELECT name FROM agents WHERE id = new.publisher_id), new.url);
END;
CREATE TRIGGER sources_names_au AFTER UPDATE OF id, title, url, publisher_id ON sources
WHEN old.id IS NOT new.id OR old.title IS NOT new.title OR old.url IS NOT new.url
    OR old.publisher_id IS NOT new.publisher_id BEGIN
    UPDATE source_documents
    SET source_id = new.id, title = new.title, url = new.url,
        publisher = (SELECT name FROM agents WHERE id = new.publisher_id)
    WHERE source_id = old.id;
END;
CREATE TRIGGER sources_names_ad AFTER DELETE ON sources BEGIN
    DELETE FROM source_documents WHERE source_id = old.id;
END;

INSERT INTO agent_documents (agent_id, name, aliases, description)
SELECT id, name, NULL, description FROM agents ORDER BY created_at, id;
INSERT INTO source_documents (source_id, title, publisher, url)
SELECT s.id, s.title, (SELECT name FROM agents WHERE id = s.publisher_id), s.url FROM sources s ORDER BY s.created_at, s.id;
