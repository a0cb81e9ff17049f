-- The bytes of uploaded files (sources under uploads/), kept for page images. With several hosts the file an
-- upload went to cannot live on one host's disk: any host renders it from here. A row goes with its document
-- (deleting the document, or replacing it, drops it; the upload then stores the new bytes). The reader role
-- has no access: only the service reads them, after its own access check.
CREATE TABLE originals (
    source text PRIMARY KEY REFERENCES documents (source) ON DELETE CASCADE,
    bytes bytea NOT NULL
);

GRANT SELECT, INSERT, UPDATE, DELETE ON originals TO eka_service;
