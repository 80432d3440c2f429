-- Bulk writes (an import, the generator) on PostgreSQL: a claim's derived
-- data made once, at the end of the write, instead of at every statement.
--
-- Single writes keep the statement-level triggers of the `search`,
-- `findability`, `claim_backers` and `claim_statings` migrations: each
-- insert of attributions recomputes its claims' search documents,
-- `stated_on`, backers and statings. An import writes a claim's
-- attributions in several statements, so each claim was recomputed once
-- per statement that held one of its attributions, and its search document
-- once more when the claim was inserted: the import of 100,000 claims spent
-- most of its 110 s in those triggers (pg_stat_statements).
--
-- A bulk write sets `claimtrail.bulk_write` to `on` for its transaction
-- (`SET LOCAL`, src/db/bulk.rs). The inserts' triggers then only note the
-- claims they would have refreshed (`bulk_claims`), and the end of the
-- bulk write refreshes every noted claim once, through the same functions,
-- and clears the notes before the commit. Updates and deletes refresh as
-- before. Nothing else changes for any other connection: the setting is
-- the transaction's own, and the notes are never committed.

CREATE FUNCTION claimtrail_in_bulk_write() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('claimtrail.bulk_write', true), '') = 'on'
$$;

-- Claims a bulk write inserted or added attributions to. Written and
-- emptied by one transaction, so no other sees a row of it, and a crash
-- loses nothing: unlogged.
CREATE UNLOGGED TABLE bulk_claims (
    claim_id TEXT NOT NULL
);

-- The noted claims' quotes and earliest dates, read for all of them in
-- one pass at the end of a bulk write; their search documents are then
-- made from it by a query PostgreSQL can run on parallel workers (an
-- `INSERT … SELECT` or an `UPDATE` runs on one process). Emptied by the
-- same transaction: unlogged, like the notes.
CREATE UNLOGGED TABLE bulk_documents (
    claim_id TEXT NOT NULL,
    quotes TEXT,
    stated_on TEXT COLLATE "C"
);

-- A claim an insert of attributions notes is locked at once, as the
-- refreshing triggers lock it (`FOR NO KEY UPDATE`, see the `findability`
-- migration), and not only at the end of the bulk write: an import that
-- carries revisions takes the change feed's turn (an advisory lock) when
-- it writes them, before its end, and a single write takes the claim's
-- row first and the feed's turn at its commit. Locked in that same order
-- by both, they cannot wait for each other. The claims an insert of
-- claims notes are its own new rows, which no other transaction sees.
CREATE FUNCTION bulk_claims_note() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed text[];
BEGIN
    IF TG_TABLE_NAME = 'claims' THEN
        INSERT INTO bulk_claims (claim_id) SELECT id FROM new_rows;
    ELSE
        changed := ARRAY(SELECT DISTINCT claim_id FROM new_rows);
        -- By the array, as the triggers do: the claims' key, not a scan.
        PERFORM 1 FROM claims WHERE id = ANY (changed) ORDER BY id FOR NO KEY UPDATE;
        INSERT INTO bulk_claims (claim_id) SELECT unnest(changed);
    END IF;
    RETURN NULL;
END
$$;

-- A claim's search document: made at its insert outside a bulk write
-- only; at every update of its fields, as before.
DROP TRIGGER claims_search_document ON claims;
CREATE TRIGGER claims_search_document BEFORE UPDATE OF id, text, subject, language ON claims
FOR EACH ROW EXECUTE FUNCTION claims_search_document_refresh();
CREATE TRIGGER claims_search_document_insert BEFORE INSERT ON claims
FOR EACH ROW WHEN (NOT claimtrail_in_bulk_write())
EXECUTE FUNCTION claims_search_document_refresh();
CREATE TRIGGER claims_bulk_noted AFTER INSERT ON claims
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT WHEN (claimtrail_in_bulk_write())
EXECUTE FUNCTION bulk_claims_note();

-- The inserts of attributions: refreshed outside a bulk write, noted in one.
DROP TRIGGER attributions_search_insert ON attributions;
CREATE TRIGGER attributions_search_insert AFTER INSERT ON attributions
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT WHEN (NOT claimtrail_in_bulk_write())
EXECUTE FUNCTION attributions_search_refresh();
DROP TRIGGER attributions_stated_on_insert ON attributions;
CREATE TRIGGER attributions_stated_on_insert AFTER INSERT ON attributions
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT WHEN (NOT claimtrail_in_bulk_write())
EXECUTE FUNCTION attributions_stated_on_refresh();
DROP TRIGGER attributions_backers_insert ON attributions;
CREATE TRIGGER attributions_backers_insert AFTER INSERT ON attributions
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT WHEN (NOT claimtrail_in_bulk_write())
EXECUTE FUNCTION attributions_backers_refresh();
DROP TRIGGER attributions_statings_insert ON attributions;
CREATE TRIGGER attributions_statings_insert AFTER INSERT ON attributions
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT WHEN (NOT claimtrail_in_bulk_write())
EXECUTE FUNCTION attributions_statings_refresh();
CREATE TRIGGER attributions_bulk_noted AFTER INSERT ON attributions
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT WHEN (claimtrail_in_bulk_write())
EXECUTE FUNCTION bulk_claims_note();

-- The same words as before, from a function PostgreSQL can inline (no
-- FROM: the punctuation is a constant in place): `claim_search_document`
-- then runs as one expression instead of nine nested function calls per
-- claim. For 10,000 claims, their documents took 1.6 s instead of 2.6 s.
CREATE OR REPLACE FUNCTION claim_search_words(t text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT translate(unaccent(coalesce(t, '')),
        E'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~\u00a0\u00a1\u00a7\u00ab\u00b0\u00b6\u00b7\u00bb\u00bf\u2010\u2011\u2012\u2013\u2014\u2015\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u2020\u2021\u2022\u2026\u2009\u202f\u2032\u2033\u2039\u203a',
        repeat(' ', char_length(E'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~\u00a0\u00a1\u00a7\u00ab\u00b0\u00b6\u00b7\u00bb\u00bf\u2010\u2011\u2012\u2013\u2014\u2015\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u2020\u2021\u2022\u2026\u2009\u202f\u2032\u2033\u2039\u203a')))
$$;
