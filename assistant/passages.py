"""The text that is embedded and indexed for a chunk, and its content hash (the embedding cache key)."""

from __future__ import annotations

import hashlib

from assistant.types import section_heading


def passage_text(title: str | None, section: str | None, text: str) -> str:
    """A chunk's text with its document title and innermost section heading in front, so both retrievers
    see context.

    Only the innermost heading: the outer levels of a deep path ("Chapter 4 > 4.1 Supervisor CSRs > 4.1.12
    …") are shared by many sections, and with them the path outweighed the short chunk it stood in front of
    (docs/retrieval-quality.md: samples nDCG@10 0.787 with the whole path, 0.808 with the innermost heading;
    engdocs-dev 0.882 and 0.887). The chunk keeps its whole path for citations.

    Example:
        >>> passage_text("Brake Spec", "4 Pads > 4.2 Wear", "Minimum pad thickness is 2 mm.")
        'Brake Spec | 4.2 Wear\\nMinimum pad thickness is 2 mm.'
    """
    head = " | ".join(p for p in (title, section_heading(section)) if p)
    return f"{head}\n{text}" if head else text


def text_hash(text: str) -> str:
    """sha256 of a passage's UTF-8 bytes, hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
