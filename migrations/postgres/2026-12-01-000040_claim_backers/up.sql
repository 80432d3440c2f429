-- Who is behind each claim, one row per claim and backer (an agent or a
-- source), with the backer's roles as bits: 1 speaker, 2 publisher (of a
-- stating source), 4 cited_publisher, 8 stating_source, 16 cited_source.
-- The rows carry the claim's sort keys, so that a page of an agent's or a
-- source's claims, in any role and any sort, is one range of an index.
-- Kept by the triggers below, on every write path.

CREATE TABLE claim_backers (
    claim_id TEXT NOT NULL,
    backer_id TEXT NOT NULL,
    roles INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    period_start TEXT,
    stated_on TEXT COLLATE "C",
    PRIMARY KEY (claim_id, backer_id)
);

-- The rows of these claims, recomputed from their attributions.
CREATE FUNCTION claim_backers_recompute(changed text[]) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM claim_backers WHERE claim_id = ANY (changed);
    INSERT INTO claim_backers (claim_id, backer_id, roles, created_at, period_start, stated_on)
    SELECT c.id, b.backer_id, bit_or(b.bit), c.created_at, c.period_start, c.stated_on
    FROM (
        SELECT claim_id, speaker_id AS backer_id, 1 AS bit FROM attributions
        WHERE claim_id = ANY (changed) AND speaker_id IS NOT NULL
        UNION ALL SELECT a.claim_id, s.publisher_id, 2 FROM attributions a JOIN sources s ON s.id = a.source_id
        WHERE a.claim_id = ANY (changed) AND s.publisher_id IS NOT NULL
        UNION ALL SELECT a.claim_id, s.publisher_id, 4 FROM attributions a JOIN sources s ON s.id = a.cited_source_id
        WHERE a.claim_id = ANY (changed) AND s.publisher_id IS NOT NULL
        UNION ALL SELECT claim_id, source_id, 8 FROM attributions WHERE claim_id = ANY (changed)
        UNION ALL SELECT claim_id, cited_source_id, 16 FROM attributions
        WHERE claim_id = ANY (changed) AND cited_source_id IS NOT NULL
    ) AS b JOIN claims c ON c.id = b.claim_id
    GROUP BY c.id, b.backer_id;
$$;

-- The same, from a trigger: the claim rows are locked first (`FOR NO KEY
-- UPDATE`, see the `findability` migration), so that the recomputation's
-- snapshot includes any writer that held them before.
CREATE FUNCTION claim_backers_refresh(changed text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF changed IS NULL THEN
        RETURN;
    END IF;
    PERFORM 1 FROM claims WHERE id = ANY (changed) ORDER BY id FOR NO KEY UPDATE;
    PERFORM claim_backers_recompute(changed);
END
$$;

-- Statement-level, like the search and `stated_on` refreshes.
CREATE FUNCTION attributions_backers_refresh() RETURNS trigger
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
           OR n.cited_source_id IS DISTINCT FROM o.cited_source_id
           OR n.speaker_id IS DISTINCT FROM o.speaker_id;
    END IF;
    PERFORM claim_backers_refresh(changed);
    RETURN NULL;
END
$$;

CREATE TRIGGER attributions_backers_insert AFTER INSERT ON attributions
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION attributions_backers_refresh();
CREATE TRIGGER attributions_backers_update AFTER UPDATE ON attributions
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION attributions_backers_refresh();
CREATE TRIGGER attributions_backers_delete AFTER DELETE ON attributions
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION attributions_backers_refresh();

CREATE FUNCTION sources_backers_refresh() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed text[];
BEGIN
    SELECT array_agg(DISTINCT claim_id) INTO changed FROM attributions
    WHERE source_id = NEW.id OR cited_source_id = NEW.id;
    PERFORM claim_backers_refresh(changed);
    RETURN NULL;
END
$$;

CREATE TRIGGER sources_backers AFTER UPDATE OF publisher_id ON sources
FOR EACH ROW WHEN (OLD.publisher_id IS DISTINCT FROM NEW.publisher_id)
EXECUTE FUNCTION sources_backers_refresh();

CREATE FUNCTION claims_backers_keys() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE claim_backers SET period_start = NEW.period_start, stated_on = NEW.stated_on WHERE claim_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER claims_backers_keys AFTER UPDATE OF period_start, stated_on ON claims
FOR EACH ROW WHEN (OLD.period_start IS DISTINCT FROM NEW.period_start OR OLD.stated_on IS DISTINCT FROM NEW.stated_on)
EXECUTE FUNCTION claims_backers_keys();

CREATE FUNCTION claims_backers_gone() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM claim_backers WHERE claim_id = OLD.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER claims_backers_gone AFTER DELETE ON claims
FOR EACH ROW EXECUTE FUNCTION claims_backers_gone();

SELECT claim_backers_recompute(ARRAY(SELECT id FROM claims));

CREATE INDEX claim_backers_by_created ON claim_backers (backer_id, created_at, claim_id, roles);
CREATE INDEX claim_backers_by_period ON claim_backers (backer_id, period_start, claim_id, roles);
CREATE INDEX claim_backers_by_stated_on ON claim_backers (backer_id, stated_on, claim_id, roles);
