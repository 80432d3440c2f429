-- Fact-check reviews: one organisation's verdict on one claim.
CREATE TABLE reviews (
    id TEXT PRIMARY KEY NOT NULL,
    claim_id TEXT NOT NULL REFERENCES claims (id),
    reviewer_id TEXT NOT NULL REFERENCES agents (id),
    author_id TEXT REFERENCES agents (id),
    rating_label TEXT NOT NULL,
    -- The label case-folded (by the application, the same on both
    -- backends): what the claim list's `rating_label` filter compares.
    rating_key TEXT NOT NULL,
    rating_value DOUBLE PRECISION,
    rating_best DOUBLE PRECISION,
    rating_worst DOUBLE PRECISION,
    summary TEXT,
    url TEXT,
    language TEXT,
    published_on TEXT,
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX reviews_by_created ON reviews (created_at, id);
-- The card's reviews, and the `reviewed` probes of the claim list.
CREATE INDEX reviews_by_claim ON reviews (claim_id, status);
-- The claim list's `reviewer_id` and `rating_label` sets, and the
-- `reviewed=true` set.
CREATE INDEX reviews_by_reviewer ON reviews (reviewer_id, status, claim_id);
CREATE INDEX reviews_by_rating ON reviews (rating_key, status, claim_id);
CREATE INDEX reviews_by_status ON reviews (status, claim_id);
-- Deleting an agent checks that no review names it as author.
CREATE INDEX reviews_by_author ON reviews (author_id);
-- At most one review per claim and reviewer that is not withdrawn (the
-- store says so first, with a 409 naming the review in the way).
CREATE UNIQUE INDEX reviews_one_active_per_reviewer ON reviews (claim_id, reviewer_id) WHERE status <> 'withdrawn';

-- `POST /v1/import/claimreview` finds a claim by its exact text: the
-- first 64 characters find the candidates (a whole text of up to 5000
-- characters is too long a key for a PostgreSQL B-tree).
CREATE INDEX claims_by_text_prefix ON claims (substr(text, 1, 64));
