"""Rendering a PDF page as a PNG (for citation previews), from the original's bytes (assistant/originals.py:
the version that was ingested, or nothing)."""

from __future__ import annotations

import io

from assistant.errors import NotFound


def render_pdf_page(data: bytes, page: int, scale: float = 1.5) -> bytes:
    """Page ``page`` (1-based) of a PDF (its bytes, from assistant/originals.py) as PNG bytes.

    Raises:
        NotFound: the PDF cannot be rendered, or has no such page.
    """
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(data)
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
