-- FTS5 keeps a write's new terms in memory until they reach its hash size
-- (1 MiB by default), then writes them out as a segment of the index,
-- which later merges read and write again. A bulk write's refresh indexes
-- every claim it wrote in one transaction: at 100,000 claims, rebuilding
-- `claims_fts` took 1.24–1.89 s with the default and 0.80–0.88 s with 32
-- MiB (Python's sqlite3 on an imported database, four runs each,
-- alternating), as its terms then fit in memory until the end. 32 MiB
-- bounds what a larger write holds for it; a single write's few terms stay
-- far below either.
INSERT INTO claims_fts (claims_fts, rank) VALUES ('hashsize', 33554432);
