"""Rendering a PDF page as a PNG (for citation previews), from the ingested file when it is still there.

The store keeps text, not files: a page image can be rendered only while the original file exists at its
ingest root (uploads are kept under ``EKA_HOME/uploads``; on PostgreSQL in the database, so that every host
can render them) and still has the version that was ingested.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from assistant.errors import NotFound
from assistant.pg.store import PgStore
from assistant.store import Store, StoredDocument


def original_file(stored: StoredDocument, home: Path) -> Path:
    """The file a document was ingested from, if it still exists unchanged. Raises NotFound."""
    source = stored.document.source
    path = home / source if source.startswith("uploads/") else Path(stored.root) / source
    if not path.is_file():
        raise NotFound("the original file is no longer available")
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != stored.document.sha256:
        raise NotFound("the original file changed since it was ingested")
    return path


def original_pdf(store: Store, stored: StoredDocument, home: Path) -> Path | bytes:
    """The original of a document to render: an upload's bytes from the database on PostgreSQL, else the
    file (:func:`original_file`). Raises NotFound when it is gone or changed."""
    if isinstance(store, PgStore) and stored.document.source.startswith("uploads/"):
        kept = store.original(stored.document.doc_id)
        if kept is None:
            raise NotFound("the original file is no longer available")
        if kept[0] != stored.document.sha256:
            raise NotFound("the original file changed since it was ingested")
        return kept[1]
    return original_file(stored, home)


def render_pdf_page(pdf_file: Path | bytes, page: int, scale: float = 1.5) -> bytes:
    """Page ``page`` (1-based) of a PDF (a path or its bytes) as PNG bytes. Raises NotFound for a page it does
    not have."""
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(pdf_file if isinstance(pdf_file, bytes) else str(pdf_file))
    except pypdfium2.PdfiumError as err:
        raise NotFound("the PDF cannot be rendered") from err
    try:
        if not 1 <= page <= len(pdf):
            raise NotFound(f"the document has no page {page}")
        image = pdf[page - 1].render(scale=scale).to_pil()
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
        return out.getvalue()
    finally:
        pdf.close()
