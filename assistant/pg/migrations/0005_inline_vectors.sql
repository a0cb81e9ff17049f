-- Chunk vectors stay inside the row instead of in the TOAST table (a 384-dimensional vector is 1,544 bytes,
-- which with the row's text passes TOAST's 2 kB threshold): an exact scan of a reader's rows then reads
-- one heap tuple per row instead of four or five buffers. Measured at 100k chunks, an exact scan of 10,016
-- rows took 61 ms with the vectors in TOAST, 12 ms inline. MAIN, not PLAIN: the row's text moves out first,
-- and a vector too large for a page (several thousand dimensions) may still go out of line. Rows written
-- before this migration move inline when the table is rewritten: `VACUUM FULL chunks` (it locks the table;
-- docs/deploy.md).
ALTER TABLE chunks ALTER COLUMN embedding SET STORAGE MAIN;
