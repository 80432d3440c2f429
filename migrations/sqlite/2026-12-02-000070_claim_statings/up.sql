-- What a list item shows besides its claim (src/claims/listing/items.rs):
-- the claim's first three stating sources (`FIRST_SOURCES`), as the JSON
-- array the item carries, and how many attributions and distinct sources
-- it has. The server passes the array to the client as it is stored, so it
-- is written here in the shape of `StatingSource` (src/claims/model.rs),
-- compact JSON on both backends. One row per claim that has attributions,
-- kept by the triggers below on every write path, so that a page reads one
-- row per claim instead of every attribution of every claim with its
-- source and publisher (at a million claims, that read was a third of a
-- page's time).
--
-- The first sources: each stating source once, with its earliest
-- attribution of the claim (the attribution's own `stated_on`, else the
-- source's `published_on`, compared byte by byte as partial dates must,
-- undated last; of equal dates the first made), ordered by that date
-- (undated last), then title, then id.
CREATE TABLE claim_statings (
    claim_id TEXT PRIMARY KEY NOT NULL,
    attribution_count INTEGER NOT NULL,
    source_count INTEGER NOT NULL,
    first_sources TEXT NOT NULL
) WITHOUT ROWID;

-- Recomputes a claim's row: a row inserted here is the request, read by
-- the trigger below and deleted at once (as `claim_backers_stale`).
CREATE TABLE claim_statings_stale (claim_id TEXT NOT NULL);

CREATE TRIGGER claim_statings_stale_ai AFTER INSERT ON claim_statings_stale BEGIN
    DELETE FROM claim_statings WHERE claim_id = new.claim_id;
    INSERT INTO claim_statings (claim_id, attribution_count, source_count, first_sources)
    SELECT new.claim_id, count(*), count(DISTINCT source_id), (
        -- In the order of the rows of `f`, as the search migrations'
        -- `group_concat`s (an `ORDER BY` inside the aggregate would make
        -- the schema unreadable to the sqlite3 shell of Debian 12, 3.40).
        SELECT json_group_array(json_object('id', f.source_id, 'title', f.title, 'publisher_name', f.publisher_name,
                'published_on', f.published_on, 'quote_status', f.quote_status))
        FROM (
            SELECT * FROM (
                SELECT a.source_id, s.title, p.name AS publisher_name, s.published_on, a.quote_status,
                    coalesce(a.stated_on, s.published_on) AS dated,
                    row_number() OVER (PARTITION BY a.source_id ORDER BY coalesce(a.stated_on, s.published_on) IS NULL,
                        coalesce(a.stated_on, s.published_on), a.created_at, a.id) AS n
                FROM attributions a JOIN sources s ON s.id = a.source_id
                LEFT JOIN agents p ON p.id = s.publisher_id
                WHERE a.claim_id = new.claim_id)
            WHERE n = 1
            ORDER BY dated IS NULL, dated, title, source_id
            LIMIT 3) AS f)
    FROM attributions WHERE claim_id = new.claim_id
    HAVING count(*) > 0;
    DELETE FROM claim_statings_stale;
END;

-- A claim's inserted rows (single or bulk writes) are refreshed with its
-- other derived data, when its note in `claims_stale` goes.
CREATE TRIGGER claims_stale_statings_ad AFTER DELETE ON claims_stale BEGIN
    INSERT INTO claim_statings_stale (claim_id) VALUES (old.claim_id);
END;
CREATE TRIGGER attributions_statings_au AFTER UPDATE OF claim_id, source_id, stated_on, quote_status, created_at ON attributions
WHEN old.claim_id IS NOT new.claim_id OR old.source_id IS NOT new.source_id OR old.stated_on IS NOT new.stated_on
    OR old.quote_status IS NOT new.quote_status OR old.created_at IS NOT new.created_at BEGIN
    INSERT INTO claim_statings_stale (claim_id) VALUES (old.claim_id);
    INSERT INTO claim_statings_stale (claim_id) SELECT new.claim_id WHERE new.claim_id IS NOT old.claim_id;
END;
CREATE TRIGGER attributions_statings_ad AFTER DELETE ON attributions BEGIN
    INSERT INTO claim_statings_stale (claim_id) VALUES (old.claim_id);
END;
CREATE TRIGGER sources_statings_au AFTER UPDATE OF title, published_on, publisher_id ON sources
WHEN old.title IS NOT new.title OR old.published_on IS NOT new.published_on OR old.publisher_id IS NOT new.publisher_id BEGIN
    INSERT INTO claim_statings_stale (claim_id) SELECT DISTINCT claim_id FROM attributions WHERE source_id = new.id;
END;
CREATE TRIGGER agents_statings_au AFTER UPDATE OF name ON agents
WHEN old.name IS NOT new.name BEGIN
    INSERT INTO claim_statings_stale (claim_id)
    SELECT DISTINCT a.claim_id FROM sources s JOIN attributions a ON a.source_id = s.id WHERE s.publisher_id = new.id;
END;

INSERT INTO claim_statings_stale (claim_id) SELECT DISTINCT claim_id FROM attributions;
