-- The store: documents, chunks (with their passage vector and BM25 postings), the embedding cache, the change
-- log and derived records; the roles the service works as; row-level security on everything a search reads.
CREATE EXTENSION IF NOT EXISTS vector;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'eka_service') THEN
        CREATE ROLE eka_service NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'eka_reader') THEN
        CREATE ROLE eka_reader NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
END
$$;

-- One row: the generation (committed changes to documents and chunks), the oldest generation the change log
-- still reaches, and the embedding model of chunks.embedding.
CREATE TABLE store_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    generation bigint NOT NULL DEFAULT 0,
    log_floor bigint NOT NULL DEFAULT 0,
    model_id text
);
INSERT INTO store_state DEFAULT VALUES;

-- Every distinct access list (groups sorted); statistics and row-level security work per access list.
CREATE TABLE acls (
    acl_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    groups text[] NOT NULL UNIQUE
);

CREATE TABLE documents (
    doc_id text PRIMARY KEY,
    doc_key integer GENERATED ALWAYS AS IDENTITY UNIQUE,  -- compact id for filter lists
    source text NOT NULL UNIQUE,
    root text NOT NULL,
    sha256 text NOT NULL,
    meta_hash text NOT NULL,
    recipe text NOT NULL,
    title text NOT NULL,
    mime text NOT NULL,
    metadata jsonb NOT NULL,
    acl text[] NOT NULL,
    acl_id integer NOT NULL REFERENCES acls,
    pages integer,
    size bigint NOT NULL,
    ingested_at text NOT NULL,
    owner text
);

CREATE TABLE chunks (
    row_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    chunk_id text NOT NULL UNIQUE,
    doc_id text NOT NULL REFERENCES documents ON DELETE CASCADE,
    doc_key integer NOT NULL,
    acl_id integer NOT NULL REFERENCES acls,
    ordinal integer NOT NULL,
    text text NOT NULL,
    page integer,
    section text,
    metadata jsonb NOT NULL,
    embed_hash text NOT NULL,
    length integer NOT NULL DEFAULT 0,  -- BM25 tokens of the passage (title, section, text)
    embedding vector  -- the passage vector for store_state.model_id (NULL until embedded)
);
CREATE INDEX chunks_by_doc ON chunks (doc_id, ordinal);
CREATE INDEX chunks_by_acl ON chunks (acl_id);

-- BM25 postings: one row per (term, chunk), with everything the scoring and the access filter need in the
-- index (an index-only scan per query term).
CREATE TABLE postings (
    term text NOT NULL,
    row_id bigint NOT NULL,
    tf integer NOT NULL,
    length integer NOT NULL,
    acl_id integer NOT NULL,
    doc_key integer NOT NULL,
    PRIMARY KEY (term, row_id) INCLUDE (tf, length, acl_id, doc_key)
);
CREATE INDEX postings_by_row ON postings (row_id);

-- Document frequency of each term per access list, and chunk count and token total per access list: a
-- reader's BM25 statistics are the sums over the access lists the reader may read (no cross-access statistics).
CREATE TABLE term_stats (
    term text NOT NULL,
    acl_id integer NOT NULL,
    df bigint NOT NULL,
    PRIMARY KEY (term, acl_id)
);
CREATE TABLE acl_stats (
    acl_id integer PRIMARY KEY REFERENCES acls,
    chunks bigint NOT NULL,
    tokens bigint NOT NULL
);

CREATE TABLE embeddings (
    model_id text NOT NULL,
    text_hash text NOT NULL,
    vector vector NOT NULL,
    PRIMARY KEY (model_id, text_hash)
);

CREATE TABLE changes (
    generation bigint NOT NULL,
    doc_id text NOT NULL,
    removed bigint[] NOT NULL,
    PRIMARY KEY (generation, doc_id)
);

CREATE TABLE derived (
    name text PRIMARY KEY,
    generation bigint NOT NULL,
    path text NOT NULL,
    sha256 text NOT NULL,
    model_id text NOT NULL,
    built_at text NOT NULL
);

-- The caller's groups for this transaction (SET LOCAL eka.groups = '{a,b}'); unset reads as no group at all.
CREATE FUNCTION eka_groups() RETURNS text[] LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('eka.groups', true), '')::text[], '{}'::text[])
$$;

GRANT USAGE ON SCHEMA public TO eka_service, eka_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO eka_service;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO eka_service;
GRANT SELECT ON acls, store_state, documents, chunks, postings, term_stats, acl_stats TO eka_reader;
GRANT eka_reader TO eka_service;

-- Row-level security, the second guard behind the access filter in every query: the service role reads and
-- writes everything; the reader role (searches) sees only rows of access lists that share a group with
-- eka.groups. FORCE: the tables' owner is held to it too.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['documents', 'chunks', 'postings', 'term_stats', 'acl_stats'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY service_all ON %I TO eka_service USING (true) WITH CHECK (true)', t);
        EXECUTE format(
            'CREATE POLICY reader_acl ON %I FOR SELECT TO eka_reader USING '
            '(acl_id = ANY (ARRAY(SELECT a.acl_id FROM acls a WHERE a.groups && eka_groups())))', t);
    END LOOP;
END
$$;
