-- A claim document's terms, for `claim_terms`, read from the table-valued
-- `claimtrail_term_rows` (src/db/terms.rs) instead of the JSON of
-- `claimtrail_terms`, which was written and then parsed again once per
-- field (`value ->> n`). The same rows; a bulk write's refill already
-- reads them so (src/db/bulk.rs).
DROP TRIGGER claim_documents_terms_ai;
CREATE TRIGGER claim_documents_terms_ai AFTER INSERT ON claim_documents
WHEN NOT EXISTS (SELECT 1 FROM claim_terms_paused) BEGIN
    INSERT INTO claim_terms (term, written, stemmed, length, doc)
    SELECT term, written, stemmed, length, new.doc
    FROM claimtrail_term_rows(new.text, new.subject, new.quotes, new.facets, new.stems);
END;
DROP TRIGGER claim_documents_terms_au;
CREATE TRIGGER claim_documents_terms_au AFTER UPDATE ON claim_documents
WHEN (old.text IS NOT new.text OR old.subject IS NOT new.subject OR old.quotes IS NOT new.quotes
    OR old.facets IS NOT new.facets OR old.stems IS NOT new.stems)
    AND NOT EXISTS (SELECT 1 FROM claim_terms_paused) BEGIN
    DELETE FROM claim_terms WHERE doc = old.doc;
    INSERT INTO claim_terms (term, written, stemmed, length, doc)
    SELECT term, written, stemmed, length, new.doc
    FROM claimtrail_term_rows(new.text, new.subject, new.quotes, new.facets, new.stems);
END;
