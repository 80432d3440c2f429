DROP TABLE api_keys;
DROP TABLE attributions;
DROP TABLE claim_tags;
DROP TABLE claims;
DROP TABLE sources;
DROP TABLE agents;
