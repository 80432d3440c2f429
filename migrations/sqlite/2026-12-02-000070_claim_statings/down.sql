DROP TRIGGER agents_statings_au;
DROP TRIGGER sources_statings_au;
DROP TRIGGER attributions_statings_ad;
DROP TRIGGER attributions_statings_au;
DROP TRIGGER claims_stale_statings_ad;
DROP TRIGGER claim_statings_stale_ai;
DROP TABLE claim_statings_stale;
DROP TABLE claim_statings;
