-- The claims' `stated_on` after a write of attributions, in one pass: their
-- attributions read once, grouped by claim, instead of `claim_stated_on`
-- called twice per claim (once to compare, once to set). In the import of
-- 100,000 claims that statement took 29.4 s of the 118 s, in 400 calls
-- (pg_stat_statements). What it computes is the same: the earliest
-- `coalesce(attribution.stated_on, source.published_on)`, in byte order,
-- NULL for a claim left without attributions.

CREATE OR REPLACE FUNCTION attributions_stated_on_refresh() RETURNS trigger
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
    UPDATE claims c SET stated_on = n.stated_on
    FROM (
        SELECT ids.id, (
            SELECT min(coalesce(a.stated_on, s.published_on) COLLATE "C")
            FROM attributions a JOIN sources s ON s.id = a.source_id
            WHERE a.claim_id = ids.id
        ) AS stated_on
        FROM unnest(changed) AS ids (id)
    ) AS n
    WHERE c.id = n.id AND c.stated_on IS DISTINCT FROM n.stated_on;
    RETURN NULL;
END
$$;
