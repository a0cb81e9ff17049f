-- Packed postings (assistant/pg/pack.py): BM25 for a reader of much of a large store reads each query term's
-- postings as a few packed arrays and sums them in the API process, instead of aggregating one row per
-- posting in SQL (measured at 1M chunks: about 1.5 us per posting, 1.4 s p95 for a reader of everything).
--
-- A pack is a read-only copy of the postings of every chunk row up to a watermark, built by `maintain`
-- beside the one searches use and switched in with one UPDATE of store_state. Its rows are numbered by
-- `slot` (0 .. n-1 in row id order), so the API sums scores into a dense array. Rows changed since the pack
-- was built are `lexical_dead` in it and are read from `postings` instead, with the rows above the
-- watermark, exactly as before. `postings` stays the truth: a pack can always be dropped and rebuilt.
CREATE TABLE lexical_slots (
    pack integer NOT NULL,
    slot integer NOT NULL,
    row_id bigint NOT NULL,
    acl_id integer NOT NULL,
    doc_key integer NOT NULL,
    PRIMARY KEY (pack, slot) INCLUDE (row_id)
);
CREATE INDEX lexical_slots_by_row ON lexical_slots (row_id) INCLUDE (pack, slot, acl_id);
CREATE INDEX lexical_slots_by_doc ON lexical_slots (pack, doc_key) INCLUDE (slot);

-- One row per (term, access list, block of up to 65,536 postings): the slots (uint32), the passage lengths
-- (uint16) and the term frequencies (uint8), little-endian, one after the other. Stored uncompressed:
-- reading is what it is for.
CREATE TABLE lexical_blocks (
    pack integer NOT NULL,
    term text NOT NULL,
    acl_id integer NOT NULL,
    block integer NOT NULL,
    postings bytea NOT NULL,
    PRIMARY KEY (pack, term, acl_id, block)
);
ALTER TABLE lexical_blocks ALTER COLUMN postings SET STORAGE EXTERNAL;

-- Slots of a pack whose row was deleted or re-indexed (new access list or title) after the pack's snapshot,
-- once under the row's access list in the pack (its readers must skip the slot) and once under its current
-- one when it still exists (its readers must read the row from `postings`).
CREATE TABLE lexical_dead (
    pack integer NOT NULL,
    slot integer NOT NULL,
    row_id bigint NOT NULL,
    acl_id integer NOT NULL,
    PRIMARY KEY (pack, slot, acl_id)
);

-- The pack searches use (0: none, every posting is read from `postings`), its highest row id, its size.
ALTER TABLE store_state ADD COLUMN lexical_pack integer NOT NULL DEFAULT 0;
ALTER TABLE store_state ADD COLUMN lexical_watermark bigint NOT NULL DEFAULT 0;
ALTER TABLE store_state ADD COLUMN lexical_slots integer NOT NULL DEFAULT 0;
CREATE SEQUENCE lexical_pack_seq;

GRANT SELECT, INSERT, UPDATE, DELETE ON lexical_slots, lexical_blocks, lexical_dead TO eka_service;
GRANT USAGE, SELECT ON SEQUENCE lexical_pack_seq TO eka_service;
GRANT SELECT ON lexical_slots, lexical_blocks, lexical_dead TO eka_reader;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['lexical_slots', 'lexical_blocks', 'lexical_dead'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY service_all ON %I TO eka_service USING (true) WITH CHECK (true)', t);
        EXECUTE format(
            'CREATE POLICY reader_acl ON %I FOR SELECT TO eka_reader USING '
            '(acl_id = ANY (ARRAY(SELECT a.acl_id FROM acls a WHERE a.groups && eka_groups())))', t);
    END LOOP;
END
$$;
