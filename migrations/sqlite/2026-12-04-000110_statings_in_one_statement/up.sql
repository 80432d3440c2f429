-- The rows of `claim_statings` for the claims noted in
-- `claim_statings_stale`, in one statement: the trigger that keeps them
-- reads it for one claim at a time, and a bulk write's refresh
-- (`end_bulk_write`, src/db/bulk.rs) for every claim it wrote at once,
-- so both derive them from this one definition. Refreshed one at a time
-- by the trigger, the rows of the 100,000 claims of an import took about
-- twice as long as in one statement, most of it the trigger's own
-- statements around the query.
--
-- The same rows as the `claim_statings` migration's trigger made: one per
-- noted claim that has attributions, its first three sources in the order
-- of the rows of `f` (as there, no `ORDER BY` inside the aggregate, which
-- the sqlite3 shell of Debian 12, 3.40, cannot read).
CREATE VIEW claim_statings_due AS
SELECT st.claim_id, count(*) AS attribution_count, count(DISTINCT a.source_id) AS source_count, (
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
                WHERE a.claim_id = st.claim_id)
            WHERE n = 1
            ORDER BY dated IS NULL, dated, title, source_id
            LIMIT 3) AS f) AS first_sources
FROM (SELECT DISTINCT claim_id FROM claim_statings_stale) AS st
JOIN attributions a ON a.claim_id = st.claim_id
GROUP BY st.claim_id;

-- A row inserted into `claim_statings_stale` is alone there when this
-- runs (each run empties the table), so the view holds that claim's row.
DROP TRIGGER claim_statings_stale_ai;
CREATE TRIGGER claim_statings_stale_ai AFTER INSERT ON claim_statings_stale BEGIN
    DELETE FROM claim_statings WHERE claim_id = new.claim_id;
    INSERT INTO claim_statings (claim_id, attribution_count, source_count, first_sources)
    SELECT claim_id, attribution_count, source_count, first_sources FROM claim_statings_due;
    DELETE FROM claim_statings_stale;
END;
