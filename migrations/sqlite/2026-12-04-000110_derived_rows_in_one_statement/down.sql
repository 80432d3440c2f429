DROP VIEW claim_backers_due;
DROP VIEW claim_statings_due;
