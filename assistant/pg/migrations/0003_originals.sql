-- The bytes of uploaded files (sources under uploads/), kept for page images. With several hosts the file an
-- upload went to cannot live on one host's disk: any host renders it from here. A row goes with its document
-- (a replaced document loses it until the upload stores the new bytes; a deleted one for good). The reader
-- role has no access: only the service reads them, after its own access check.
CREATE TABLE originals (
    doc_id text PRIMARY KEY REFERENCES documents ON DELETE CASCADE,
    sha256 text NOT NULL,
    content bytea NOT NULL
);

GRANT SELECT, INSERT, UPDATE, DELETE ON originals TO eka_service;
