DROP INDEX claims_by_text_prefix;
DROP TABLE reviews;
