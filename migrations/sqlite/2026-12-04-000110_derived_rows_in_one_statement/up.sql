-- The rows of `claim_statings` and `claim_backers` for every claim noted
-- in `claim_statings_stale` and `claim_backers_stale`, one statement each,
-- for a bulk write's refresh (`end_bulk_write`, src/db/bulk.rs): it drops
-- the tables' triggers, lets the notes of the claims it refreshes pile up,
-- and writes their rows from these views. Refreshed one claim at a time by
-- the triggers, the statings and backers of the 100,000 claims of an
-- import took longer, most of it the triggers' own statements around
-- their queries.
--
-- The triggers keep their own queries for one claim: through these views
-- they took 12 µs more per claim (the SQL alone, 100,000 claims refreshed
-- one at a time: 7.0 s, 8.2 s through the views). Both must give the same
-- rows; the test
-- `bulk_import::an_import_derives_the_search_documents_dates_and_backers_that_single_writes_derived`
-- compares them.

-- As the `claim_statings` migration's trigger: one row per noted claim
-- that has attributions, its first three sources in the order of the rows
-- of `f` (as there, no `ORDER BY` inside the aggregate, which the sqlite3
-- shell of Debian 12, 3.40, cannot read).
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

-- As the `claim_backers` migration's trigger, written for many claims:
-- each attribution gives up to five (backer, role bit) pairs, one per
-- role, instead of a union of five queries, each sorted to drop repeats
-- (over 100,000 claims, that union and its sorts took longer than the
-- trigger's queries one claim at a time). A backer's roles are the sum of
-- its distinct bits.
CREATE VIEW claim_backers_due AS
SELECT c.id AS claim_id, b.backer_id, sum(DISTINCT b.bit) AS roles, c.created_at, c.period_start, c.stated_on
FROM (SELECT DISTINCT claim_id FROM claim_backers_stale) AS st
JOIN claims c ON c.id = st.claim_id
JOIN (
    SELECT a.claim_id, CASE r.bit WHEN 1 THEN a.speaker_id WHEN 2 THEN s.publisher_id WHEN 4 THEN cs.publisher_id
        WHEN 8 THEN a.source_id ELSE a.cited_source_id END AS backer_id, r.bit
    FROM attributions a JOIN sources s ON s.id = a.source_id LEFT JOIN sources cs ON cs.id = a.cited_source_id
    CROSS JOIN (SELECT 1 AS bit UNION ALL SELECT 2 UNION ALL SELECT 4 UNION ALL SELECT 8 UNION ALL SELECT 16) AS r
) AS b ON b.claim_id = st.claim_id
WHERE b.backer_id IS NOT NULL
GROUP BY c.id, b.backer_id;
