-- Full-text search over claims, and the indexes that let every list filter
-- and sort of GET /v1/claims seek instead of scanning.
--
-- A claim's search document is its text, its subject and the quotes
-- (`quote_exact`) of all its attributions, joined in attribution order. It
-- is kept as a tsvector on the claim row (`search_document`, GIN-indexed),
-- maintained by triggers inside the writing transaction.
--
-- The document must find what SQLite's FTS5 (unicode61 tokenizer, diacritics
-- removed, no stemming) finds: the `simple` configuration (no stemming, no
-- stop words) over unaccented text in which punctuation is blanked out first,
-- so that PostgreSQL's parser sees plain words ("al-Qaida" → "al qaida",
-- "17.7" → "17 7", URLs → their words) the way unicode61 splits them.

CREATE EXTENSION IF NOT EXISTS unaccent;

CREATE FUNCTION claim_search_words(t text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT translate(unaccent(coalesce(t, '')), p, repeat(' ', char_length(p)))
    FROM (SELECT E'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~\u00a0\u00a1\u00a7\u00ab\u00b0\u00b6\u00b7\u00bb\u00bf\u2010\u2011\u2012\u2013\u2014\u2015\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u2020\u2021\u2022\u2026\u2009\u202f\u2032\u2033\u2039\u203a'::text AS p) AS punctuation
$$;

-- Phrases must not run from one field into the next, as FTS5 columns do
-- not: a filler word between the fields takes a position and is then
-- deleted, leaving a gap.
CREATE FUNCTION claim_search_document(p_text text, p_subject text, p_quotes text) RETURNS tsvector
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT ts_delete(
        to_tsvector('simple',
            claim_search_words(p_text) || ' claimtrailfieldbreak '
            || claim_search_words(p_subject) || ' claimtrailfieldbreak '
            || claim_search_words(p_quotes)),
        'claimtrailfieldbreak'::text)
$$;

CREATE FUNCTION claim_quotes(p_claim_id text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT string_agg(quote_exact, ' ' ORDER BY created_at, id) FROM attributions WHERE claim_id = p_claim_id
$$;

ALTER TABLE claims ADD COLUMN search_document tsvector;

CREATE FUNCTION claims_search_document_refresh() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_document := claim_search_document(NEW.text, NEW.subject, claim_quotes(NEW.id));
    RETURN NEW;
END
$$;

CREATE TRIGGER claims_search_document BEFORE INSERT OR UPDATE OF id, text, subject ON claims
FOR EACH ROW EXECUTE FUNCTION claims_search_document_refresh();

-- Statement-level, so that a bulk insert of attributions rewrites each
-- claim once. The claim rows are locked first and recomputed in a second
-- statement: under READ COMMITTED that statement's snapshot includes the
-- quotes of any concurrent writer that held the lock before us.
CREATE FUNCTION attributions_search_refresh() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed text[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT claim_id) INTO changed FROM new_rows WHERE quote_exact IS NOT NULL;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(DISTINCT claim_id) INTO changed FROM old_rows WHERE quote_exact IS NOT NULL;
    ELSE
        SELECT array_agg(DISTINCT c) INTO changed
        FROM new_rows n JOIN old_rows o ON o.id = n.id,
             LATERAL (VALUES (n.claim_id), (o.claim_id)) AS ids (c)
        WHERE n.quote_exact IS DISTINCT FROM o.quote_exact
           OR n.claim_id IS DISTINCT FROM o.claim_id
           OR n.created_at IS DISTINCT FROM o.created_at;
    END IF;
    IF changed IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM claims WHERE id = ANY (changed) ORDER BY id FOR UPDATE;
    UPDATE claims SET search_document = claim_search_document(text, subject, claim_quotes(id))
    WHERE id = ANY (changed);
    RETURN NULL;
END
$$;

CREATE TRIGGER attributions_search_insert AFTER INSERT ON attributions
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION attributions_search_refresh();
CREATE TRIGGER attributions_search_update AFTER UPDATE ON attributions
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION attributions_search_refresh();
CREATE TRIGGER attributions_search_delete AFTER DELETE ON attributions
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION attributions_search_refresh();

UPDATE claims SET search_document = claim_search_document(text, subject, claim_quotes(id));

CREATE INDEX claims_by_search_document ON claims USING gin (search_document);

-- Sorts: `created_at` has claims_by_created already; `period_start` sorts
-- and the upper bound of the period filter use this one.
CREATE INDEX claims_by_period_start ON claims (period_start, id);

-- Equality filters, each followed by the default sort so that "filter,
-- newest first" reads a page straight off the index.
CREATE INDEX claims_by_kind ON claims (kind, created_at, id);
CREATE INDEX claims_by_status ON claims (status, created_at, id);
CREATE INDEX claims_by_place ON claims (place, created_at, id);
CREATE INDEX claims_by_unit ON claims (quantity_unit, quantity_value);
CREATE INDEX claims_by_value ON claims (quantity_value);

-- The source, speaker and publisher filters read claim ids straight from
-- these indexes (covering), without visiting the attribution rows: by
-- source or speaker when they pick the claims, by claim when they check a
-- claim picked otherwise.
DROP INDEX attributions_by_claim;
CREATE INDEX attributions_by_claim ON attributions (claim_id, source_id, speaker_id);
DROP INDEX attributions_by_source;
CREATE INDEX attributions_by_source ON attributions (source_id, claim_id);
DROP INDEX attributions_by_speaker;
CREATE INDEX attributions_by_speaker ON attributions (speaker_id, claim_id);
DROP INDEX sources_by_publisher;
CREATE INDEX sources_by_publisher ON sources (publisher_id, id);
