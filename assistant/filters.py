"""Metadata filters and the access check, both decided per document before results leave retrieval."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any

from assistant.errors import EkaError
from assistant.types import Document

Filters = Mapping[str, tuple[str, ...]]

# Fields of the document itself that can be filtered on, besides its free-form metadata.
DOCUMENT_FIELDS = ("source", "doc_id", "title", "mime")


class FilterError(EkaError):
    """A filter expression is malformed."""


def parse_filters(expressions: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Parse ``KEY=VALUE`` expressions; repeating a key means *any of* its values.

    Example:
        >>> parse_filters(["brand=Aurelis", "brand=Kestrel", "doc_type=specification"])
        {'brand': ('Aurelis', 'Kestrel'), 'doc_type': ('specification',)}
    """
    out: dict[str, tuple[str, ...]] = {}
    for expression in expressions:
        key, sep, value = expression.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise FilterError(f"filter {expression!r} is not KEY=VALUE")
        out[key] = (*out.get(key, ()), value)
    return out


def can_read(document: Document, groups: frozenset[str]) -> bool:
    """Whether a principal with ``groups`` may read ``document``."""
    return not document.acl.isdisjoint(groups)


def _values(document: Document, key: str) -> list[str]:
    raw: Any = getattr(document, key) if key in DOCUMENT_FIELDS else document.metadata.get(key)
    if raw is None:
        return []
    items = raw if isinstance(raw, list | tuple | set | frozenset) else [raw]
    return [str(v).casefold() for v in items]


def matches(document: Document, filters: Filters) -> bool:
    """Whether a document satisfies every filter (values compared case-insensitively; ``source`` globs)."""
    for key, wanted in filters.items():
        have = _values(document, key)
        if key == "source":
            if not any(fnmatch.fnmatchcase(h, w.casefold()) for h in have for w in wanted):
                return False
        elif not any(w.casefold() in have for w in wanted):
            return False
    return True
