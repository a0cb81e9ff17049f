"""Uploaded originals in PostgreSQL (``originals`` table), so every API host renders their pages; documents
ingested from the CLI are read from their ingest root, as in the embedded backend."""

from __future__ import annotations

from pathlib import Path

from assistant.errors import NotFound
from assistant.originals import UPLOADS, FileOriginals, Originals, _checked
from assistant.pg.db import Database
from assistant.store import StoredDocument


class PgOriginals:
    """Uploads as ``bytea`` rows keyed by source; everything else through :class:`FileOriginals`."""

    def __init__(self, db: Database, home: Path) -> None:
        self.db = db
        self.files = FileOriginals(home)

    def keep(self, source: str, path: Path) -> None:
        """Keep the bytes with their document (a row goes when the document is removed or replaced); nothing
        when the document is gone meanwhile."""
        data = path.read_bytes()
        with self.db.connection() as conn:
            conn.execute(
                "INSERT INTO originals (source, bytes)"
                " SELECT %s, %s WHERE EXISTS (SELECT 1 FROM documents WHERE source = %s)"
                " ON CONFLICT (source) DO UPDATE SET bytes = EXCLUDED.bytes",
                (source, data, source),
            )

    def read(self, stored: StoredDocument) -> bytes:
        source = stored.document.source
        if not source.startswith(UPLOADS):
            return self.files.read(stored)
        with self.db.connection() as conn:
            row = conn.execute("SELECT bytes FROM originals WHERE source = %s", (source,)).fetchone()
        if row is None:
            raise NotFound("the original file is no longer available")
        return _checked(bytes(row[0]), stored)

    def forget(self, source: str) -> None:
        with self.db.connection() as conn:
            conn.execute("DELETE FROM originals WHERE source = %s", (source,))


_: type[Originals] = PgOriginals
