-- A claim's derived data (its search document, `stated_on`, its backers)
-- is refreshed by one trigger, for one claim at a time: a write notes the
-- claim in `claims_stale`, and deleting the note refreshes the claim.
--
-- A single write deletes its note at once. A bulk write (an import, the
-- generator) first puts a row in `bulk_write`, in its own transaction: its
-- notes then stay, one per claim however many of its rows the write
-- inserts, and the write ends by deleting the row and then the notes, so
-- each claim is refreshed once instead of at every claim, tag and
-- attribution row (src/db/write.rs, `Tx::bulk`). Before, an import of
-- 100,000 claims rewrote each claim's full-text document three to five
-- times and recomputed its backers once per attribution.
CREATE TABLE bulk_write (id INTEGER PRIMARY KEY CHECK (id = 1));
CREATE TABLE claims_stale (claim_id TEXT PRIMARY KEY) WITHOUT ROWID;

CREATE TRIGGER claims_stale_ad AFTER DELETE ON claims_stale BEGIN
    UPDATE claims SET stated_on = (SELECT min(coalesce(a.stated_on, s.published_on)) FROM attributions a
        JOIN sources s ON s.id = a.source_id WHERE a.claim_id = old.claim_id) WHERE id = old.claim_id;
    UPDATE claim_documents
    SET quotes = (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = old.claim_id ORDER BY a.created_at, a.id)),
        facets = (
            coalesce((SELECT group_concat('t' || hex(t.tag), ' ') FROM claim_tags t WHERE t.claim_id = old.claim_id), '')
            || ' ' || coalesce((SELECT group_concat('s' || replace(a.source_id, '-', '') || coalesce(' k' || replace(a.speaker_id, '-', ''), ''), ' ')
                FROM attributions a WHERE a.claim_id = old.claim_id), '')
            || ' ' || coalesce((SELECT group_concat('p' || replace(s.publisher_id, '-', ''), ' ')
                FROM attributions a JOIN sources s ON s.id = a.source_id WHERE a.claim_id = old.claim_id), '')),
        stems = claimtrail_stems(text, subject, (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = old.claim_id ORDER BY a.created_at, a.id)), language)
    WHERE claim_id = old.claim_id;
    INSERT INTO claim_documents (claim_id, text, subject, quotes, facets, language, stems)
    SELECT c.id, c.text, c.subject,
        (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = c.id ORDER BY a.created_at, a.id)),
        (
            coalesce((SELECT group_concat('t' || hex(t.tag), ' ') FROM claim_tags t WHERE t.claim_id = c.id), '')
            || ' ' || coalesce((SELECT group_concat('s' || replace(a.source_id, '-', '') || coalesce(' k' || replace(a.speaker_id, '-', ''), ''), ' ')
                FROM attributions a WHERE a.claim_id = c.id), '')
            || ' ' || coalesce((SELECT group_concat('p' || replace(s.publisher_id, '-', ''), ' ')
                FROM attributions a JOIN sources s ON s.id = a.source_id WHERE a.claim_id = c.id), '')),
        c.language,
        claimtrail_stems(c.text, c.subject, (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = c.id ORDER BY a.created_at, a.id)), c.language)
    FROM claims c
    WHERE c.id = old.claim_id AND NOT EXISTS (SELECT 1 FROM claim_documents d WHERE d.claim_id = old.claim_id);
    INSERT INTO claim_backers_stale (claim_id) VALUES (old.claim_id);
END;

DROP TRIGGER claims_search_ai;
DROP TRIGGER claims_stated_on_ai;
DROP TRIGGER claims_backers_ai;
DROP TRIGGER claim_tags_search_ai;
DROP TRIGGER attributions_search_ai;
DROP TRIGGER attributions_stated_on_ai;
DROP TRIGGER attributions_backers_ai;

CREATE TRIGGER claims_stale_ai AFTER INSERT ON claims BEGIN
    INSERT OR IGNORE INTO claims_stale (claim_id) VALUES (new.id);
    DELETE FROM claims_stale WHERE claim_id = new.id AND NOT EXISTS (SELECT 1 FROM bulk_write);
END;
CREATE TRIGGER claim_tags_stale_ai AFTER INSERT ON claim_tags BEGIN
    INSERT OR IGNORE INTO claims_stale (claim_id) VALUES (new.claim_id);
    DELETE FROM claims_stale WHERE claim_id = new.claim_id AND NOT EXISTS (SELECT 1 FROM bulk_write);
END;
CREATE TRIGGER attributions_stale_ai AFTER INSERT ON attributions BEGIN
    INSERT OR IGNORE INTO claims_stale (claim_id) VALUES (new.claim_id);
    DELETE FROM claims_stale WHERE claim_id = new.claim_id AND NOT EXISTS (SELECT 1 FROM bulk_write);
END;
