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
    UPDATE claims SET stated_on = claim_stated_on(id)
    WHERE id = ANY (changed) AND stated_on IS DISTINCT FROM claim_stated_on(id);
    RETURN NULL;
END
$$;
