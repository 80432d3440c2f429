DROP TABLE claim_term_lists;
