DROP TRIGGER claim_documents_log_au;
DROP TRIGGER claim_documents_log_ad;
DROP TRIGGER claim_documents_log_ai;
DROP TRIGGER claim_terms_log_ai;
DROP TABLE claim_terms_log;
