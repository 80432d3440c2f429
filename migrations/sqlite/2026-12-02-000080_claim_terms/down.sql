DROP TRIGGER claim_documents_terms_au;
DROP TRIGGER claim_documents_terms_ad;
DROP TRIGGER claim_documents_terms_ai;
DROP TABLE claim_terms_paused;
DROP TABLE claim_terms;
