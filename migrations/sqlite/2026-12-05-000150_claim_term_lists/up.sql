-- Posting lists of the terms in many claims, stored as the server keeps
-- them in memory (src/db/postings.rs, `PostingList::to_bytes`), so that
-- the first search of two such words on a server reads two blobs instead
-- of ranking every match by FTS5 (hundreds of milliseconds at a million
-- claims) or reading each list row by row from `claim_terms` (about a
-- second for a word in most claims).
--
-- Each list is as of `seq`, the last row of `claim_terms_log` in the
-- snapshot it was read in: a reader carries it over the documents logged
-- since, as a kept list is carried over a commit; a list the log no
-- longer reaches back to (more than 4,000 documents changed, or a bulk
-- write that filled `claim_terms` again) is read again whole and stored
-- anew. Derived data, written only by `claims::listing::stored`; never
-- exported. `format` is the version of the bytes (also marked in them,
-- `CTL1` first): a list of a format this build does not write is not
-- used, and is replaced. (A column, so that a server starting can tell
-- without reading the blobs: SQLite reads all of a blob for `substr`.)
--
-- A list is only as good as the log it is checked against: a later
-- migration that fills `claim_terms` again or makes `claim_terms_log`
-- anew (its `seq` starting over) must empty this table.
CREATE TABLE claim_term_lists (
    term TEXT PRIMARY KEY NOT NULL,
    seq INTEGER NOT NULL,
    format INTEGER NOT NULL,
    docs INTEGER NOT NULL,
    list BLOB NOT NULL
);
