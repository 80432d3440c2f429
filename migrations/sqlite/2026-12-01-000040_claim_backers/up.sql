-- Who is behind each claim, one row per claim and backer (an agent or a
-- source), with the backer's roles as bits: 1 speaker, 2 publisher (of a
-- stating source), 4 cited_publisher, 8 stating_source, 16 cited_source.
-- The rows carry the claim's sort keys, so that a page of an agent's or a
-- source's claims, in any role and any sort, is one range of an index
-- instead of a walk of every claim with a check per claim. Kept by the
-- triggers below, on every write path.

CREATE TABLE claim_backers (
    claim_id TEXT NOT NULL,
    backer_id TEXT NOT NULL,
    roles INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    period_start TEXT,
    stated_on TEXT,
    PRIMARY KEY (claim_id, backer_id)
) WITHOUT ROWID;

-- Recomputes a claim's rows: a row inserted here is the request, read by
-- the trigger below and deleted at once, so the table stays empty and the
-- recomputation is written once.
CREATE TABLE claim_backers_stale (claim_id TEXT NOT NULL);

CREATE TRIGGER claim_backers_stale_ai AFTER INSERT ON claim_backers_stale BEGIN
    DELETE FROM claim_backers WHERE claim_id = new.claim_id;
    INSERT INTO claim_backers (claim_id, backer_id, roles, created_at, period_start, stated_on)
    SELECT c.id, b.backer_id, sum(b.bit), c.created_at, c.period_start, c.stated_on
    FROM claims c CROSS JOIN (
        SELECT speaker_id AS backer_id, 1 AS bit FROM attributions
        WHERE claim_id = new.claim_id AND speaker_id IS NOT NULL
        UNION SELECT s.publisher_id, 2 FROM attributions a JOIN sources s ON s.id = a.source_id
        WHERE a.claim_id = new.claim_id AND s.publisher_id IS NOT NULL
        UNION SELECT s.publisher_id, 4 FROM attributions a JOIN sources s ON s.id = a.cited_source_id
        WHERE a.claim_id = new.claim_id AND s.publisher_id IS NOT NULL
        UNION SELECT source_id, 8 FROM attributions WHERE claim_id = new.claim_id
        UNION SELECT cited_source_id, 16 FROM attributions
        WHERE claim_id = new.claim_id AND cited_source_id IS NOT NULL
    ) AS b
    WHERE c.id = new.claim_id
    GROUP BY b.backer_id;
    DELETE FROM claim_backers_stale;
END;

CREATE TRIGGER attributions_backers_ai AFTER INSERT ON attributions BEGIN
    INSERT INTO claim_backers_stale (claim_id) VALUES (new.claim_id);
END;
CREATE TRIGGER attributions_backers_au AFTER UPDATE OF claim_id, source_id, cited_source_id, speaker_id ON attributions
WHEN old.claim_id IS NOT new.claim_id OR old.source_id IS NOT new.source_id
    OR old.cited_source_id IS NOT new.cited_source_id OR old.speaker_id IS NOT new.speaker_id BEGIN
    INSERT INTO claim_backers_stale (claim_id) VALUES (old.claim_id);
    INSERT INTO claim_backers_stale (claim_id) SELECT new.claim_id WHERE new.claim_id IS NOT old.claim_id;
END;
CREATE TRIGGER attributions_backers_ad AFTER DELETE ON attributions BEGIN
    INSERT INTO claim_backers_stale (claim_id) VALUES (old.claim_id);
END;
CREATE TRIGGER sources_backers_au AFTER UPDATE OF publisher_id ON sources
WHEN old.publisher_id IS NOT new.publisher_id BEGIN
    INSERT INTO claim_backers_stale (claim_id)
    SELECT claim_id FROM attributions WHERE source_id = new.id
    UNION SELECT claim_id FROM attributions WHERE cited_source_id = new.id;
END;
-- A bulk load may write a claim's attributions before the claim.
CREATE TRIGGER claims_backers_ai AFTER INSERT ON claims
WHEN EXISTS (SELECT 1 FROM attributions WHERE claim_id = new.id) BEGIN
    INSERT INTO claim_backers_stale (claim_id) VALUES (new.id);
END;
CREATE TRIGGER claims_backers_au AFTER UPDATE OF period_start, stated_on ON claims
WHEN old.period_start IS NOT new.period_start OR old.stated_on IS NOT new.stated_on BEGIN
    UPDATE claim_backers SET period_start = new.period_start, stated_on = new.stated_on WHERE claim_id = new.id;
END;
CREATE TRIGGER claims_backers_ad AFTER DELETE ON claims BEGIN
    DELETE FROM claim_backers WHERE claim_id = old.id;
END;

INSERT INTO claim_backers (claim_id, backer_id, roles, created_at, period_start, stated_on)
SELECT c.id, b.backer_id, sum(b.bit), c.created_at, c.period_start, c.stated_on
FROM (
    SELECT claim_id, speaker_id AS backer_id, 1 AS bit FROM attributions WHERE speaker_id IS NOT NULL
    UNION SELECT a.claim_id, s.publisher_id, 2 FROM attributions a JOIN sources s ON s.id = a.source_id
    WHERE s.publisher_id IS NOT NULL
    UNION SELECT a.claim_id, s.publisher_id, 4 FROM attributions a JOIN sources s ON s.id = a.cited_source_id
    WHERE s.publisher_id IS NOT NULL
    UNION SELECT claim_id, source_id, 8 FROM attributions
    UNION SELECT claim_id, cited_source_id, 16 FROM attributions WHERE cited_source_id IS NOT NULL
) AS b JOIN claims c ON c.id = b.claim_id
GROUP BY b.claim_id, b.backer_id;

-- A page: the backer's rows in the sort's order, the roles read from the
-- index itself.
CREATE INDEX claim_backers_by_created ON claim_backers (backer_id, created_at, claim_id, roles);
CREATE INDEX claim_backers_by_period ON claim_backers (backer_id, period_start, claim_id, roles);
CREATE INDEX claim_backers_by_stated_on ON claim_backers (backer_id, stated_on, claim_id, roles);
