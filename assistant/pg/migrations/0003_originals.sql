-- The bytes of uploaded documents (page images are rendered from them on any API host).
CREATE TABLE originals (
    source text PRIMARY KEY,
    bytes bytea NOT NULL
);
GRANT SELECT, INSERT, UPDATE, DELETE ON originals TO eka_service;
