"""Where the original files of documents are kept, for page images: the ``Originals`` seam.

The store keeps text, not files. A page image is rendered from the original, which must still be the version
that was ingested (its sha256). Uploads are kept by eka; documents ingested from the CLI are read from their
ingest root.

- :class:`FileOriginals` (embedded): uploads under ``EKA_HOME/uploads``; CLI documents at their root.
- :class:`assistant.pg.originals.PgOriginals` (PostgreSQL): uploads in the database, so every API host can
  render them; CLI documents at their root (mount the corpus at the same path on every host).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Protocol

from assistant.errors import NotFound
from assistant.store import StoredDocument

UPLOADS = "uploads/"


class Originals(Protocol):
    """Keeps the bytes of uploaded documents and finds the original of any document.

    Example:
        >>> originals.keep("uploads/ann/spec.pdf", path)  # doctest: +SKIP
        >>> pdf = originals.read(stored)  # doctest: +SKIP
    """

    def keep(self, source: str, path: Path) -> None:
        """Keep a copy of an uploaded file under its source (``uploads/...``), replacing any earlier one."""
        ...

    def read(self, stored: StoredDocument) -> bytes:
        """The bytes of a document's original, exactly the version that was ingested.

        Raises:
            NotFound: the original is gone, or changed since it was ingested.
        """
        ...

    def forget(self, source: str) -> None:
        """Drop the kept copy of an upload (nothing for other documents, or when there is none)."""
        ...


def _checked(data: bytes, stored: StoredDocument) -> bytes:
    if hashlib.sha256(data).hexdigest() != stored.document.sha256:
        raise NotFound("the original file changed since it was ingested")
    return data


class FileOriginals:
    """Uploads under ``home/uploads``; other documents at their ingest root."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def _path(self, stored: StoredDocument) -> Path:
        source = stored.document.source
        return self.home / source if source.startswith(UPLOADS) else Path(stored.root) / source

    def keep(self, source: str, path: Path) -> None:
        kept = self.home / source
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, kept)

    def read(self, stored: StoredDocument) -> bytes:
        path = self._path(stored)
        if not path.is_file():
            raise NotFound("the original file is no longer available")
        return _checked(path.read_bytes(), stored)

    def forget(self, source: str) -> None:
        if source.startswith(UPLOADS):  # sources are unique: never another document's file
            (self.home / source).unlink(missing_ok=True)


_: type[Originals] = FileOriginals
