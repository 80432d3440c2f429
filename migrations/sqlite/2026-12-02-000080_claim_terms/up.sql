-- Each term of each claim document, ordered for ranking a word by
-- relevance without ranking all its matches (src/claims/listing/top.rs).
--
-- One row per term of a document, as FTS5 indexes it in `claims_fts`
-- (`claimtrail_terms`, src/db/terms.rs, tokenises with FTS5's own
-- tokeniser): how often the term occurs in the text, subject and quotes
-- (`written`), how often in `stems`, and the document's length in tokens
-- (all five columns, as BM25 counts it). Facet terms are not here: their
-- weight is 0. For one word, BM25 grows with `written` and `stemmed` and
-- falls as `length` grows, so the best matches of each (`written`,
-- `stemmed`) pair are the first rows of its range in this key.
CREATE TABLE claim_terms (
    term TEXT NOT NULL,
    written INTEGER NOT NULL,
    stemmed INTEGER NOT NULL,
    length INTEGER NOT NULL,
    doc INTEGER NOT NULL,
    PRIMARY KEY (term, written, stemmed, length, doc)
) WITHOUT ROWID;

-- Filled in the table's order (as `end_bulk_write` fills it again).
INSERT INTO claim_terms (term, written, stemmed, length, doc)
SELECT t.value ->> 0, t.value ->> 1, t.value ->> 2, t.value ->> 3, d.doc
FROM claim_documents d, json_each(claimtrail_terms(d.text, d.subject, d.quotes, d.facets, d.stems)) t
ORDER BY 1, 2, 3, 4, 5;

-- A document's rows, for ranking the documents a search has found and for
-- deleting them.
CREATE INDEX claim_terms_by_doc ON claim_terms (doc, term);

-- While a row is here (a bulk write's large refresh, src/db/mod.rs,
-- `end_bulk_write`), the triggers leave `claim_terms` and `claim_term_docs`
-- alone: the refresh builds them again whole, in order, which is faster
-- than their rows one document at a time.
CREATE TABLE claim_terms_paused (id INTEGER PRIMARY KEY CHECK (id = 1));

-- How many documents hold each term: in the text, subject or quotes, in
-- `stems`, anywhere. BM25's IDF of a one-word phrase is read here instead
-- of counted by walking the word's posting list (about 7 ms for a common
-- word at a million claims, on every first run of a query text).
CREATE TABLE claim_term_docs (
    term TEXT PRIMARY KEY NOT NULL,
    written INTEGER NOT NULL,
    stemmed INTEGER NOT NULL,
    docs INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO claim_term_docs (term, written, stemmed, docs)
SELECT term, sum(written > 0), sum(stemmed > 0), count(*) FROM claim_terms GROUP BY term;

CREATE TRIGGER claim_terms_docs_ai AFTER INSERT ON claim_terms
WHEN NOT EXISTS (SELECT 1 FROM claim_terms_paused) BEGIN
    INSERT INTO claim_term_docs (term, written, stemmed, docs)
    VALUES (new.term, new.written > 0, new.stemmed > 0, 1)
    ON CONFLICT (term) DO UPDATE SET written = written + (new.written > 0),
        stemmed = stemmed + (new.stemmed > 0), docs = docs + 1;
END;
CREATE TRIGGER claim_terms_docs_ad AFTER DELETE ON claim_terms
WHEN NOT EXISTS (SELECT 1 FROM claim_terms_paused) BEGIN
    UPDATE claim_term_docs SET written = written - (old.written > 0),
        stemmed = stemmed - (old.stemmed > 0), docs = docs - 1
    WHERE term = old.term;
    DELETE FROM claim_term_docs WHERE term = old.term AND docs = 0;
END;

CREATE TRIGGER claim_documents_terms_ai AFTER INSERT ON claim_documents
WHEN NOT EXISTS (SELECT 1 FROM claim_terms_paused) BEGIN
    INSERT INTO claim_terms (term, written, stemmed, length, doc)
    SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, new.doc
    FROM json_each(claimtrail_terms(new.text, new.subject, new.quotes, new.facets, new.stems));
END;
CREATE TRIGGER claim_documents_terms_ad AFTER DELETE ON claim_documents
WHEN NOT EXISTS (SELECT 1 FROM claim_terms_paused) BEGIN
    DELETE FROM claim_terms WHERE doc = old.doc;
END;
CREATE TRIGGER claim_documents_terms_au AFTER UPDATE ON claim_documents
WHEN (old.text IS NOT new.text OR old.subject IS NOT new.subject OR old.quotes IS NOT new.quotes
    OR old.facets IS NOT new.facets OR old.stems IS NOT new.stems)
    AND NOT EXISTS (SELECT 1 FROM claim_terms_paused) BEGIN
    DELETE FROM claim_terms WHERE doc = old.doc;
    INSERT INTO claim_terms (term, written, stemmed, length, doc)
    SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, new.doc
    FROM json_each(claimtrail_terms(new.text, new.subject, new.quotes, new.facets, new.stems));
END;
