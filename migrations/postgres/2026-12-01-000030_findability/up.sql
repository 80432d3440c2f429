-- Findability (issue 13): stemmed claim search, name search over agents
-- and sources, agents' aliases, a claim's `stated_on`, and the indexes of
-- the agent and source claim lists. Every derived value is kept by
-- triggers inside the writing transaction, as the search document is.

-- Agents' other names ("JNIM"), a JSON array of strings.
ALTER TABLE agents ADD COLUMN aliases TEXT NOT NULL DEFAULT '[]';

-- ---------------------------------------------------------------------
-- Stemmed claim search. A claim's search document holds its words as
-- written with weight A (the `simple` configuration, as before) and, for a
-- claim in English or of no stated language, their English stems with
-- weight B: Snowball's English stemmer without stop words, the one SQLite's
-- side runs in the server (`claimtrail_stems`). A query matches a word as
-- written (A) or its stem (B); `ts_rank` weighs B below A, so exact forms
-- rank above inflected ones. Claims in other languages have no stems and
-- are found by their words as written.

CREATE TEXT SEARCH DICTIONARY claimtrail_english_stem (TEMPLATE = snowball, Language = english);
CREATE TEXT SEARCH CONFIGURATION claimtrail_english (COPY = simple);
ALTER TEXT SEARCH CONFIGURATION claimtrail_english
    ALTER MAPPING FOR asciiword, word, numword, asciihword, hword, numhword, hword_asciipart, hword_part, hword_numpart
    WITH claimtrail_english_stem;

CREATE FUNCTION claim_is_stemmed(p_language text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT p_language IS NULL OR lower(p_language) = 'en' OR lower(p_language) LIKE 'en-%'
$$;

-- The fields, a filler word between them so that phrases do not run from
-- one into the next (it takes a position and is deleted).
CREATE FUNCTION claim_search_fields(p_config regconfig, p_text text, p_subject text, p_quotes text) RETURNS tsvector
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT ts_delete(
        to_tsvector(p_config,
            claim_search_words(p_text) || ' claimtrailfieldbreak '
            || claim_search_words(p_subject) || ' claimtrailfieldbreak '
            || claim_search_words(p_quotes)),
        'claimtrailfieldbreak'::text)
$$;

CREATE FUNCTION claim_search_document(p_text text, p_subject text, p_quotes text, p_language text) RETURNS tsvector
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT setweight(claim_search_fields('simple', p_text, p_subject, p_quotes), 'A')
        || CASE WHEN claim_is_stemmed(p_language)
                THEN setweight(claim_search_fields('claimtrail_english', p_text, p_subject, p_quotes), 'B')
                ELSE ''::tsvector END
$$;

CREATE OR REPLACE FUNCTION claims_search_document_refresh() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_document := claim_search_document(NEW.text, NEW.subject, claim_quotes(NEW.id), NEW.language);
    RETURN NEW;
END
$$;

DROP TRIGGER claims_search_document ON claims;
CREATE TRIGGER claims_search_document BEFORE INSERT OR UPDATE OF id, text, subject, language ON claims
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
    PERFORM 1 FROM claims WHERE id = ANY (changed) ORDER BY id FOR NO KEY UPDATE;
    UPDATE claims SET search_document = claim_search_document(text, subject, claim_quotes(id), language)
    WHERE id = ANY (changed);
    RETURN NULL;
END
$$;

DROP FUNCTION claim_search_document(text, text, text);

UPDATE claims SET search_document = claim_search_document(text, subject, claim_quotes(id), language);

-- ---------------------------------------------------------------------
-- A claim's `stated_on`: when it entered public discourse, the earliest
-- date of its attributions (an attribution's own `stated_on`, else its
-- source's `published_on`). Partial dates compare as text in byte order,
-- as the period sort does: "2012" < "2012-01" < "2012-01-05" < "2013".

ALTER TABLE claims ADD COLUMN stated_on TEXT COLLATE "C";

CREATE FUNCTION claim_stated_on(p_claim_id text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT min(coalesce(a.stated_on, s.published_on) COLLATE "C")
    FROM attributions a JOIN sources s ON s.id = a.source_id
    WHERE a.claim_id = p_claim_id
$$;

UPDATE claims SET stated_on = claim_stated_on(id);
CREATE INDEX claims_by_stated_on ON claims (stated_on, id);

-- Statement-level, like the search refresh: claim rows locked first, then
-- recomputed by a statement whose snapshot includes any writer that held
-- the lock before. `FOR NO KEY UPDATE`, not `FOR UPDATE`: a writer of an
-- attribution holds a key-share lock on its claim (the foreign key), which
-- `FOR UPDATE` would wait for, and two such writers would deadlock.
CREATE FUNCTION attributions_stated_on_refresh() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed text[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT claim_id) INTO changed FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(DISTINCT claim_id) INTO changed FROM old_rows;
    ELSE
        SELECT array_agg(DISTINCT c) INTO changed
        FROM new_rows n JOIN old_rows o ON o.id = n.id,
             LATERAL (VALUES (n.claim_id), (o.claim_id)) AS ids (c)
        WHERE n.claim_id IS DISTINCT FROM o.claim_id
           OR n.source_id IS DISTINCT FROM o.source_id
           OR n.stated_on IS DISTINCT FROM o.stated_on;
    END IF;
    IF changed IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM claims WHERE id = ANY (changed) ORDER BY id FOR NO KEY UPDATE;
    UPDATE claims SET stated_on = claim_stated_on(id)
    WHERE id = ANY (changed) AND stated_on IS DISTINCT FROM claim_stated_on(id);
    RETURN NULL;
END
$$;

CREATE TRIGGER attributions_stated_on_insert AFTER INSERT ON attributions
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION attributions_stated_on_refresh();
CREATE TRIGGER attributions_stated_on_update AFTER UPDATE ON attributions
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION attributions_stated_on_refresh();
CREATE TRIGGER attributions_stated_on_delete AFTER DELETE ON attributions
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION attributions_stated_on_refresh();

CREATE FUNCTION sources_stated_on_refresh() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM claims WHERE id IN (SELECT claim_id FROM attributions WHERE source_id = NEW.id)
    ORDER BY id FOR NO KEY UPDATE;
    UPDATE claims SET stated_on = claim_stated_on(id)
    WHERE id IN (SELECT claim_id FROM attributions WHERE source_id = NEW.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER sources_stated_on AFTER UPDATE OF published_on ON sources
FOR EACH ROW WHEN (OLD.published_on IS DISTINCT FROM NEW.published_on)
EXECUTE FUNCTION sources_stated_on_refresh();

-- ---------------------------------------------------------------------
-- The claims an agent or a source is behind: a claim is picked by the
-- cited source (and its publisher) as well, and checked per claim.

DROP INDEX attributions_by_claim;
CREATE INDEX attributions_by_claim ON attributions (claim_id, source_id, speaker_id, cited_source_id);
DROP INDEX attributions_by_cited_source;
CREATE INDEX attributions_by_cited_source ON attributions (cited_source_id, claim_id);

-- ---------------------------------------------------------------------
-- Name search: a tsvector of each agent's name (A), aliases (B) and
-- description (D), and of each source's title (A), publisher's name (B)
-- and URL (C), GIN-indexed, over the same normalised words as claims.

CREATE FUNCTION agent_search_names(p_name text, p_aliases text, p_description text) RETURNS tsvector
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT setweight(to_tsvector('simple', claim_search_words(p_name)), 'A')
        || setweight(to_tsvector('simple', claim_search_words(
               (SELECT string_agg(value, ' ') FROM json_array_elements_text(p_aliases::json)))), 'B')
        || setweight(to_tsvector('simple', claim_search_words(p_description)), 'D')
$$;

ALTER TABLE agents ADD COLUMN search_names tsvector;

CREATE FUNCTION agents_search_names_refresh() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_names := agent_search_names(NEW.name, NEW.aliases, NEW.description);
    RETURN NEW;
END
$$;

CREATE TRIGGER agents_search_names BEFORE INSERT OR UPDATE OF name, aliases, description ON agents
FOR EACH ROW EXECUTE FUNCTION agents_search_names_refresh();

UPDATE agents SET search_names = agent_search_names(name, aliases, description);
CREATE INDEX agents_by_search_names ON agents USING gin (search_names);

CREATE FUNCTION source_search_names(p_title text, p_publisher text, p_url text) RETURNS tsvector
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT setweight(to_tsvector('simple', claim_search_words(p_title)), 'A')
        || setweight(to_tsvector('simple', claim_search_words(p_publisher)), 'B')
        || setweight(to_tsvector('simple', claim_search_words(p_url)), 'C')
$$;

ALTER TABLE sources ADD COLUMN search_names tsvector;

CREATE FUNCTION sources_search_names_refresh() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_names := source_search_names(
        NEW.title, (SELECT name FROM agents WHERE id = NEW.publisher_id), NEW.url);
    RETURN NEW;
END
$$;

CREATE TRIGGER sources_search_names BEFORE INSERT OR UPDATE OF title, url, publisher_id ON sources
FOR EACH ROW EXECUTE FUNCTION sources_search_names_refresh();

-- A publisher renamed renames it in its sources' documents.
CREATE FUNCTION agents_publisher_name_refresh() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE sources SET search_names = source_search_names(title, NEW.name, url) WHERE publisher_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER agents_publisher_name AFTER UPDATE OF name ON agents
FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
EXECUTE FUNCTION agents_publisher_name_refresh();

UPDATE sources SET search_names = source_search_names(title, (SELECT name FROM agents WHERE id = publisher_id), url);
CREATE INDEX sources_by_search_names ON sources USING gin (search_names);
