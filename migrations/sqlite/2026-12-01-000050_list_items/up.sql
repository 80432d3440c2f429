-- A list item shows its claim's first stating sources and its counts
-- (src/claims/listing/items.rs), read for a whole page from this index:
-- with the attribution's date, quote status, creation time and id in it,
-- the attributions themselves are not read, one random read fewer per
-- attribution (at a million claims most of them miss the memory map).
DROP INDEX attributions_by_claim;
CREATE INDEX attributions_by_claim
    ON attributions (claim_id, source_id, speaker_id, cited_source_id, stated_on, quote_status, created_at, id);
