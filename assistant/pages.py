"""A page's text rebuilt from its chunks (for citation previews), removing the overlap between chunks."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.tables import is_row
from assistant.types import Chunk


@dataclass(frozen=True, slots=True)
class PageText:
    """The text of one page (or, for formats without pages, the whole document as page 1)."""

    page: int
    text: str
    sections: tuple[str, ...]


def _overlap(left: str, right: str, longest: int = 4000) -> int:
    """Length of the longest suffix of ``left`` that is a prefix of ``right`` (at least 20 characters)."""
    limit = min(len(left), len(right), longest)
    for size in range(limit, 19, -1):
        if left.endswith(right[:size]):
            return size
    return 0


def _without_repeated_header(out: str, text: str) -> str:
    """``text`` without its first line when that is the header of the table that ``out`` ends in.

    A continuation chunk repeats its table's header row; on the page, the table goes on under one header.
    """
    first, _, rest = text.partition("\n")
    if not rest or not is_row(first):
        return text
    lines = out.split("\n")
    start = len(lines)
    while start > 0 and is_row(lines[start - 1]):
        start -= 1
    return rest if start < len(lines) and lines[start].strip() == first.strip() else text


def merge_chunks(texts: list[str]) -> str:
    """Join consecutive chunk texts, dropping the text a chunk repeats from the one before it."""
    out = ""
    for text in texts:
        text = text.strip()
        if not out:
            out = text
            continue
        text = _without_repeated_header(out, text)
        cut = _overlap(out, text)
        out = out + text[cut:] if cut else f"{out}\n{text}"
    return out


def page_text(chunks: list[Chunk], page: int) -> PageText | None:
    """The text of ``page`` from a document's chunks in reading order; None when the page has no chunks.

    Documents without pages (HTML, Markdown, DOCX, text) are served as a single page 1.
    """
    paged = any(c.page is not None for c in chunks)
    on_page = [c for c in chunks if (c.page == page if paged else page == 1)]
    if not on_page:
        return None
    sections = tuple(dict.fromkeys(c.section for c in on_page if c.section))
    return PageText(page, merge_chunks([c.text for c in on_page]), sections)
