DROP TRIGGER claim_terms_docs_ad;
DROP TRIGGER claim_terms_docs_ai;
DROP TABLE claim_term_docs;
DROP TRIGGER claim_documents_terms_au;
DROP TRIGGER claim_documents_terms_ad;
DROP TRIGGER claim_documents_terms_ai;
DROP TABLE claim_terms_paused;
DROP TABLE claim_terms;
