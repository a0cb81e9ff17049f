-- Postings keyed (term, acl_id, row_id): a query term's postings are read per access list the caller may
-- read, so a narrow reader's BM25 reads only its own postings instead of every posting of the term and
-- filtering (measured at 100k chunks: the lexical sub-query of a reader of 1 % took as long as a reader of
-- everything, 50 ms p50 on the bench's questions). A reader of everything reads the same postings as before,
-- one index descent per access list. Rebuilding the key takes a few minutes per 10 million postings and locks
-- the table meanwhile (docs/deploy.md).
ALTER TABLE postings DROP CONSTRAINT postings_pkey;
ALTER TABLE postings ADD PRIMARY KEY (term, acl_id, row_id) INCLUDE (tf, length, doc_key);
