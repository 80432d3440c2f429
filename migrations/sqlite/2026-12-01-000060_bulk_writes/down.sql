DROP TRIGGER claims_stale_ai;
DROP TRIGGER claim_tags_stale_ai;
DROP TRIGGER attributions_stale_ai;
DROP TRIGGER claims_stale_ad;
DROP TABLE claims_stale;
DROP TABLE bulk_write;

CREATE TRIGGER claims_search_ai AFTER INSERT ON claims BEGIN
    INSERT INTO claim_documents (claim_id, text, subject, quotes, facets, language, stems)
    VALUES (
        new.id, new.text, new.subject,
        (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = new.id ORDER BY a.created_at, a.id)),
        (
            coalesce((SELECT group_concat('t' || hex(t.tag), ' ') FROM claim_tags t WHERE t.claim_id = new.id), '')
            || ' ' || coalesce((SELECT group_concat('s' || replace(a.source_id, '-', '') || coalesce(' k' || replace(a.speaker_id, '-', ''), ''), ' ')
                FROM attributions a WHERE a.claim_id = new.id), '')
            || ' ' || coalesce((SELECT group_concat('p' || replace(s.publisher_id, '-', ''), ' ')
                FROM attributions a JOIN sources s ON s.id = a.source_id WHERE a.claim_id = new.id), '')),
        new.language,
        claimtrail_stems(new.text, new.subject, (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = new.id ORDER BY a.created_at, a.id)), new.language)
    );
END;
CREATE TRIGGER claims_stated_on_ai AFTER INSERT ON claims
WHEN EXISTS (SELECT 1 FROM attributions WHERE claim_id = new.id) BEGIN
    UPDATE claims SET stated_on = (SELECT min(coalesce(a.stated_on, s.published_on)) FROM attributions a
        JOIN sources s ON s.id = a.source_id WHERE a.claim_id = new.id) WHERE id = new.id;
END;
CREATE TRIGGER claims_backers_ai AFTER INSERT ON claims
WHEN EXISTS (SELECT 1 FROM attributions WHERE claim_id = new.id) BEGIN
    INSERT INTO claim_backers_stale (claim_id) VALUES (new.id);
END;
CREATE TRIGGER claim_tags_search_ai AFTER INSERT ON claim_tags BEGIN
    UPDATE claim_documents SET facets = (
            coalesce((SELECT group_concat('t' || hex(t.tag), ' ') FROM claim_tags t WHERE t.claim_id = new.claim_id), '')
            || ' ' || coalesce((SELECT group_concat('s' || replace(a.source_id, '-', '') || coalesce(' k' || replace(a.speaker_id, '-', ''), ''), ' ')
                FROM attributions a WHERE a.claim_id = new.claim_id), '')
            || ' ' || coalesce((SELECT group_concat('p' || replace(s.publisher_id, '-', ''), ' ')
                FROM attributions a JOIN sources s ON s.id = a.source_id WHERE a.claim_id = new.claim_id), ''))
    WHERE claim_id = new.claim_id;
END;
CREATE TRIGGER attributions_search_ai AFTER INSERT ON attributions BEGIN
    UPDATE claim_documents
    SET quotes = (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = new.claim_id ORDER BY a.created_at, a.id)),
        facets = (
            coalesce((SELECT group_concat('t' || hex(t.tag), ' ') FROM claim_tags t WHERE t.claim_id = new.claim_id), '')
            || ' ' || coalesce((SELECT group_concat('s' || replace(a.source_id, '-', '') || coalesce(' k' || replace(a.speaker_id, '-', ''), ''), ' ')
                FROM attributions a WHERE a.claim_id = new.claim_id), '')
            || ' ' || coalesce((SELECT group_concat('p' || replace(s.publisher_id, '-', ''), ' ')
                FROM attributions a JOIN sources s ON s.id = a.source_id WHERE a.claim_id = new.claim_id), '')),
        stems = claimtrail_stems(text, subject, (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = new.claim_id ORDER BY a.created_at, a.id)), language)
    WHERE claim_id = new.claim_id;
END;
CREATE TRIGGER attributions_stated_on_ai AFTER INSERT ON attributions BEGIN
    UPDATE claims SET stated_on = (SELECT min(coalesce(a.stated_on, s.published_on)) FROM attributions a
        JOIN sources s ON s.id = a.source_id WHERE a.claim_id = new.claim_id) WHERE id = new.claim_id;
END;
CREATE TRIGGER attributions_backers_ai AFTER INSERT ON attributions BEGIN
    INSERT INTO claim_backers_stale (claim_id) VALUES (new.claim_id);
END;
