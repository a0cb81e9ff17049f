"""The text that is embedded and indexed for a chunk, and its content hash (the embedding cache key)."""

from __future__ import annotations

import hashlib


def passage_text(title: str | None, section: str | None, text: str) -> str:
    """A chunk's text with its document title and section path in front, so both retrievers see context.

    Example:
        >>> passage_text("Brake Spec", "4 Pads > 4.2 Wear", "Minimum pad thickness is 2 mm.")
        'Brake Spec | 4 Pads > 4.2 Wear\\nMinimum pad thickness is 2 mm.'
    """
    head = " | ".join(p for p in (title, section) if p)
    return f"{head}\n{text}" if head else text


def text_hash(text: str) -> str:
    """sha256 of a passage's UTF-8 bytes, hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
