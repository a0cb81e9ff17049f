-- The highest chunk row id when the HNSW index was last built. Rows above it were inserted into the graph
-- one by one, and a newly inserted region can be poorly connected (an upload unlike everything indexed
-- before, measured at 100k chunks: not found at any ef_search); searches also scan these rows exactly,
-- as the embedded backend searches its delta exactly. `eka index rebuild` rebuilds the index and moves it.
ALTER TABLE store_state ADD COLUMN dense_watermark bigint NOT NULL DEFAULT 0;
