DROP INDEX sources_by_search_names;
DROP TRIGGER agents_publisher_name ON agents;
DROP FUNCTION agents_publisher_name_refresh();
DROP TRIGGER sources_search_names ON sources;
DROP FUNCTION sources_search_names_refresh();
ALTER TABLE sources DROP COLUMN search_names;
DROP FUNCTION source_search_names(text, text, text);
DROP INDEX agents_by_search_names;
DROP TRIGGER agents_search_names ON agents;
DROP FUNCTION agents_search_names_refresh();
ALTER TABLE agents DROP COLUMN search_names;
DROP FUNCTION agent_search_names(text, text, text);

DROP INDEX attributions_by_cited_source;
CREATE INDEX attributions_by_cited_source ON attributions (cited_source_id);
DROP INDEX attributions_by_claim;
CREATE INDEX attributions_by_claim ON attributions (claim_id, source_id, speaker_id);

DROP TRIGGER sources_stated_on ON sources;
DROP FUNCTION sources_stated_on_refresh();
DROP TRIGGER attributions_stated_on_insert ON attributions;
DROP TRIGGER attributions_stated_on_update ON attributions;
DROP TRIGGER attributions_stated_on_delete ON attributions;
DROP FUNCTION attributions_stated_on_refresh();
DROP INDEX claims_by_stated_on;
ALTER TABLE claims DROP COLUMN stated_on;
DROP FUNCTION claim_stated_on(text);

CREATE FUNCTION claim_search_document(p_text text, p_subject text, p_quotes text) RETURNS tsvector
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT claim_search_fields('simple', p_text, p_subject, p_quotes)
$$;
CREATE OR REPLACE FUNCTION claims_search_document_refresh() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_document := claim_search_document(NEW.text, NEW.subject, claim_quotes(NEW.id));
    RETURN NEW;
END
$$;
DROP TRIGGER claims_search_document ON claims;
CREATE TRIGGER claims_search_document BEFORE INSERT OR UPDATE OF id, text, subject ON claims
FOR EACH ROW EXECUTE FUNCTION claims_search_document_refresh();
CREATE OR REPLACE FUNCTION attributions_search_refresh() RETURNS trigger
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
DROP FUNCTION claim_search_document(text, text, text, text);
UPDATE claims SET search_document = claim_search_document(text, subject, claim_quotes(id));
DROP FUNCTION claim_search_document(text, text, text);
CREATE FUNCTION claim_search_document(p_text text, p_subject text, p_quotes text) RETURNS tsvector
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT ts_delete(
        to_tsvector('simple',
            claim_search_words(p_text) || ' claimtrailfieldbreak '
            || claim_search_words(p_subject) || ' claimtrailfieldbreak '
            || claim_search_words(p_quotes)),
        'claimtrailfieldbreak'::text)
$$;
DROP FUNCTION claim_search_fields(regconfig, text, text, text);
DROP FUNCTION claim_is_stemmed(text);
DROP TEXT SEARCH CONFIGURATION claimtrail_english;
DROP TEXT SEARCH DICTIONARY claimtrail_english_stem;

ALTER TABLE agents DROP COLUMN aliases;
