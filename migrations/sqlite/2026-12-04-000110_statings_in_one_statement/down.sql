DROP TRIGGER claim_statings_stale_ai;
DROP VIEW claim_statings_due;
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
