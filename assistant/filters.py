"""Metadata filters and the access check, both decided per document before results leave retrieval."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from assistant.errors import EkaError
from assistant.types import Document

Filters = Mapping[str, tuple[str, ...]]

# Fields of the document itself that can be filtered on, besides its free-form metadata.
DOCUMENT_FIELDS = ("source", "doc_id", "title", "mime")


# Limits on what a caller may filter by: every filter is matched against every document on each search, and
# its compiled form is cached, so neither its size nor its work may grow with the input.
MAX_FILTER_KEYS = 20
MAX_FILTER_VALUES = 100  # values of one key
MAX_KEY_CHARS = 100
MAX_VALUE_CHARS = 200
MAX_GLOB_WILDCARDS = 10  # '*', '?' and '[' in one `source` glob


class FilterError(EkaError):
    """A filter expression is malformed or over a limit."""


def check_filters(filters: Mapping[str, Iterable[str]]) -> None:
    """Enforce the size limits on filters (keys, values per key, lengths, glob wildcards).

    Raises:
        FilterError: a limit is exceeded; the message names it.
    """
    if len(filters) > MAX_FILTER_KEYS:
        raise FilterError(f"{len(filters)} filter keys; at most {MAX_FILTER_KEYS}")
    for key, values in filters.items():
        values = [values] if isinstance(values, str) else list(values)
        if len(key) > MAX_KEY_CHARS:
            raise FilterError(f"filter key of {len(key)} characters; at most {MAX_KEY_CHARS}")
        if len(values) > MAX_FILTER_VALUES:
            raise FilterError(f"filter {key[:40]!r} has {len(values)} values; at most {MAX_FILTER_VALUES}")
        for value in values:
            if len(value) > MAX_VALUE_CHARS:
                raise FilterError(
                    f"filter {key[:40]!r} has a value of {len(value)} characters; at most {MAX_VALUE_CHARS}"
                )
            wildcards = sum(value.count(c) for c in "*?[")
            if key == "source" and wildcards > MAX_GLOB_WILDCARDS:
                raise FilterError(
                    f"source glob {value[:40]!r} has {wildcards} wildcards; at most {MAX_GLOB_WILDCARDS}"
                )


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
    check_filters(out)
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


@lru_cache(maxsize=256)
def _glob(pattern: str) -> re.Pattern[str]:
    """A compiled glob, in a cache of its own: ``fnmatch`` keeps 32,768 patterns of any length."""
    return re.compile(fnmatch.translate(pattern))


def matches(document: Document, filters: Filters) -> bool:
    """Whether a document satisfies every filter (values compared case-insensitively; ``source`` globs)."""
    for key, wanted in filters.items():
        have = _values(document, key)
        if key == "source":
            if not any(_glob(w.casefold()).match(h) for h in have for w in wanted):
                return False
        elif not any(w.casefold() in have for w in wanted):
            return False
    return True
