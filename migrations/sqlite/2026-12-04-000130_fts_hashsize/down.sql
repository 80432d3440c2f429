DELETE FROM claims_fts_config WHERE k = 'hashsize';
