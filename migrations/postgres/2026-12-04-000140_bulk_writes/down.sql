CREATE OR REPLACE FUNCTION claim_search_words(t text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT translate(unaccent(coalesce(t, '')), p, repeat(' ', char_length(p)))
    FROM (SELECT E'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~\u00a0\u00a1\u00a7\u00ab\u00b0\u00b6\u00b7\u00bb\u00bf\u2010\u2011\u2012\u2013\u2014\u2015\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u2020\u2021\u2022\u2026\u2009\u202f\u2032\u2033\u2039\u203a'::text AS p) AS punctuation
$$;

DROP TRIGGER attributions_bulk_noted ON attributions;
DROP TRIGGER claims_bulk_noted ON claims;
DROP TRIGGER claims_search_document_insert ON claims;
DROP TRIGGER claims_search_document ON claims;
CREATE TRIGGER claims_search_document BEFORE INSERT OR UPDATE OF id, text, subject, language ON claims
FOR EACH ROW EXECUTE FUNCTION claims_search_document_refresh();

DROP TRIGGER attributions_search_insert ON attributions;
CREATE TRIGGER attributions_search_insert AFTER INSERT ON attributions
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION attributions_search_refresh();
DROP TRIGGER attributions_stated_on_insert ON attributions;
CREATE TRIGGER attributions_stated_on_insert AFTER INSERT ON attributions
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION attributions_stated_on_refresh();
DROP TRIGGER attributions_backers_insert ON attributions;
CREATE TRIGGER attributions_backers_insert AFTER INSERT ON attributions
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION attributions_backers_refresh();
DROP TRIGGER attributions_statings_insert ON attributions;
CREATE TRIGGER attributions_statings_insert AFTER INSERT ON attributions
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION attributions_statings_refresh();

DROP FUNCTION bulk_claims_note();
DROP TABLE bulk_documents;
DROP TABLE bulk_claims;
DROP FUNCTION claimtrail_in_bulk_write();
