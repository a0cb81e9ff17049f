-- The services every API worker shares: API keys, the hash-chained provenance log with feedback, and the
-- rate limiter's token buckets.

-- API keys: only the sha256 of each secret (assistant/keys.py).
CREATE TABLE api_keys (
    key_id text PRIMARY KEY,
    hash text NOT NULL UNIQUE,
    user_id text NOT NULL,
    groups text[] NOT NULL,
    roles text[] NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX api_keys_by_user ON api_keys (user_id) WHERE revoked_at IS NULL;

-- Provenance (assistant/audit.py): record is the exact canonical JSON text that was hashed (text, not jsonb,
-- which would rewrite it); seq counts up from 1 without gaps.
CREATE TABLE provenance (
    seq bigint PRIMARY KEY,
    id text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    user_id text NOT NULL,
    record text NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL
);

-- The chain's head: the last record's seq and hash. Every append locks this row (SELECT ... FOR UPDATE),
-- which serialises appends from every process and host, so each record links to the one before it.
CREATE TABLE provenance_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    seq bigint NOT NULL,
    hash text NOT NULL
);
INSERT INTO provenance_head VALUES (true, 0, repeat('0', 64));

CREATE FUNCTION provenance_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'provenance records are append-only';
END
$$;
CREATE TRIGGER provenance_no_update BEFORE UPDATE OR DELETE ON provenance
    FOR EACH ROW EXECUTE FUNCTION provenance_append_only();
CREATE TRIGGER provenance_no_truncate BEFORE TRUNCATE ON provenance
    FOR EACH STATEMENT EXECUTE FUNCTION provenance_append_only();

CREATE TABLE feedback (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provenance_id text NOT NULL REFERENCES provenance (id),
    user_id text NOT NULL,
    rating text NOT NULL CHECK (rating IN ('up', 'down')),
    comment text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX feedback_by_answer ON feedback (provenance_id, seq);

-- Token buckets (assistant/ratelimit.py): the level after the last take, when it was taken (seconds since
-- the epoch) and whether that take was granted (what the one-statement upsert returns).
CREATE TABLE rate_buckets (
    key text PRIMARY KEY,
    tokens double precision NOT NULL,
    at double precision NOT NULL,
    granted boolean NOT NULL
);

-- The service role may insert and read provenance, never change or remove it (the trigger also stops the
-- tables' owner).
GRANT SELECT, INSERT, UPDATE ON api_keys TO eka_service;
GRANT SELECT, INSERT ON provenance TO eka_service;
GRANT SELECT, UPDATE ON provenance_head TO eka_service;
GRANT SELECT, INSERT ON feedback TO eka_service;
GRANT SELECT, INSERT, UPDATE, DELETE ON rate_buckets TO eka_service;
