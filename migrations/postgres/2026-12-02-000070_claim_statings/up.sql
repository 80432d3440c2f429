-- What a list item shows besides its claim (src/claims/listing/items.rs):
-- the claim's first three stating sources (`FIRST_SOURCES`), as the JSON
-- array the item carries, and how many attributions and distinct sources
-- it has. The server passes the array to the client as it is stored, so it
-- is written here in the shape of `StatingSource` (src/claims/model.rs),
-- compact JSON on both backends. One row per claim that has attributions,
-- kept by the triggers below on every write path, so that a page reads one
-- row per claim instead of every attribution of every claim with its
-- source and publisher.
--
-- The first sources: each stating source once, with its earliest
-- attribution of the claim (the attribution's own `stated_on`, else the
-- source's `published_on`, compared byte by byte as partial dates must,
-- undated last; of equal dates the first made), ordered by that date
-- (undated last), then title, then id, all byte by byte (`COLLATE "C"`),
-- as on SQLite.
CREATE TABLE claim_statings (
    claim_id TEXT PRIMARY KEY NOT NULL,
    attribution_count BIGINT NOT NULL,
    source_count BIGINT NOT NULL,
    first_sources TEXT NOT NULL
);

-- The rows of these claims, recomputed from their attributions.
CREATE FUNCTION claim_statings_recompute(changed text[]) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM claim_statings WHERE claim_id = ANY (changed);
    INSERT INTO claim_statings (claim_id, attribution_count, source_count, first_sources)
    SELECT c.claim_id, count(*), count(DISTINCT c.source_id), (
        SELECT '[' || string_agg('{"id":' || to_json(f.source_id)::text || ',"title":' || to_json(f.title)::text
                || ',"publisher_name":' || coalesce(to_json(f.publisher_name)::text, 'null')
                || ',"published_on":' || coalesce(to_json(f.published_on)::text, 'null')
                || ',"quote_status":' || coalesce(to_json(f.quote_status)::text, 'null') || '}', ','
            ORDER BY f.dated IS NULL, f.dated, f.title COLLATE "C", f.source_id COLLATE "C") || ']'
        FROM (
            SELECT * FROM (
                SELECT a.source_id, s.title, p.name AS publisher_name, s.published_on, a.quote_status,
                    coalesce(a.stated_on, s.published_on) COLLATE "C" AS dated,
                    row_number() OVER (PARTITION BY a.source_id ORDER BY coalesce(a.stated_on, s.published_on) IS NULL,
                        coalesce(a.stated_on, s.published_on) COLLATE "C", a.created_at, a.id COLLATE "C") AS n
                FROM attributions a JOIN sources s ON s.id = a.source_id
                LEFT JOIN agents p ON p.id = s.publisher_id
                WHERE a.claim_id = c.claim_id) AS w
            WHERE n = 1
            ORDER BY dated IS NULL, dated, title COLLATE "C", source_id COLLATE "C"
            LIMIT 3) AS f)
    FROM attributions c
    WHERE c.claim_id = ANY (changed)
    GROUP BY c.claim_id;
$$;

-- The same, from a trigger: the claim rows are locked first (`FOR NO KEY
-- UPDATE`, see the `findability` migration), so that the recomputation's
-- snapshot includes any writer that held them before.
CREATE FUNCTION claim_statings_refresh(changed text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF changed IS NULL THEN
        RETURN;
    END IF;
    PERFORM 1 FROM claims WHERE id = ANY (changed) ORDER BY id FOR NO KEY UPDATE;
    PERFORM claim_statings_recompute(changed);
END
$$;

-- Statement-level, like the search, `stated_on` and backers refreshes.
CREATE FUNCTION attributions_statings_refresh() RETURNS trigger
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
           OR n.stated_on IS DISTINCT FROM o.stated_on
           OR n.quote_status IS DISTINCT FROM o.quote_status
           OR n.created_at IS DISTINCT FROM o.created_at;
    END IF;
    PERFORM claim_statings_refresh(changed);
    RETURN NULL;
END
$$;

CREATE TRIGGER attributions_statings_insert AFTER INSERT ON attributions
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION attributions_statings_refresh();
CREATE TRIGGER attributions_statings_update AFTER UPDATE ON attributions
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION attributions_statings_refresh();
CREATE TRIGGER attributions_statings_delete AFTER DELETE ON attributions
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION attributions_statings_refresh();

CREATE FUNCTION sources_statings_refresh() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed text[];
BEGIN
    SELECT array_agg(DISTINCT claim_id) INTO changed FROM attributions WHERE source_id = NEW.id;
    PERFORM claim_statings_refresh(changed);
    RETURN NULL;
END
$$;

CREATE TRIGGER sources_statings AFTER UPDATE OF title, published_on, publisher_id ON sources
FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title OR OLD.published_on IS DISTINCT FROM NEW.published_on
    OR OLD.publisher_id IS DISTINCT FROM NEW.publisher_id)
EXECUTE FUNCTION sources_statings_refresh();

CREATE FUNCTION agents_statings_refresh() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed text[];
BEGIN
    SELECT array_agg(DISTINCT a.claim_id) INTO changed
    FROM sources s JOIN attributions a ON a.source_id = s.id WHERE s.publisher_id = NEW.id;
    PERFORM claim_statings_refresh(changed);
    RETURN NULL;
END
$$;

CREATE TRIGGER agents_statings AFTER UPDATE OF name ON agents
FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
EXECUTE FUNCTION agents_statings_refresh();

SELECT claim_statings_recompute(ARRAY(SELECT DISTINCT claim_id FROM attributions));
