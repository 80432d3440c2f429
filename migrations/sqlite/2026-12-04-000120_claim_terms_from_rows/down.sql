DROP TRIGGER claim_documents_terms_ai;
CREATE TRIGGER claim_documents_terms_ai AFTER INSERT ON claim_documents
WHEN NOT EXISTS (SELECT 1 FROM claim_terms_paused) BEGIN
    INSERT INTO claim_terms (term, written, stemmed, length, doc)
    SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, new.doc
    FROM json_each(claimtrail_terms(new.text, new.subject, new.quotes, new.facets, new.stems));
END;
DROP TRIGGER claim_documents_terms_au;
CREATE TRIGGER claim_documents_terms_au AFTER UPDATE ON claim_documents
WHEN (old.text IS NOT new.text OR old.subject IS NOT new.subject OR old.quotes IS NOT new.quotes
    OR old.facets IS NOT new.facets OR old.stems IS NOT new.stems)
    AND NOT EXISTS (SELECT 1 FROM claim_terms_paused) BEGIN
    DELETE FROM claim_terms WHERE doc = old.doc;
    INSERT INTO claim_terms (term, written, stemmed, length, doc)
    SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, new.doc
    FROM json_each(claimtrail_terms(new.text, new.subject, new.quotes, new.facets, new.stems));
END;
