DROP INDEX attributions_by_claim;
CREATE INDEX attributions_by_claim ON attributions (claim_id, source_id, speaker_id, cited_source_id);
