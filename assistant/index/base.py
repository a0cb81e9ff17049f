"""The ``Index`` seam: a search structure over chunk row ids, filtered to an allowed set of ids.

Implemented by :class:`assistant.index.dense.FaissIndex` (query: a vector; rows added with their vectors) and
:class:`assistant.index.lexical.Bm25Index` (query: text; rows added with their passages).
:class:`assistant.index.derived.DerivedIndexes` keeps both in step with the store through this protocol;
``tests/contract/test_index_contract.py`` holds every implementation to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, Self, TypeVar

import numpy as np

Query = TypeVar("Query", contravariant=True)  # what ``search`` takes: a query vector, or query text
Rows = TypeVar("Rows", contravariant=True)  # what ``apply`` adds per row: vectors, or passages


class Index(Protocol[Query, Rows]):
    """Nearest-neighbour (or lexical) search over chunk row ids, updated by row and persisted as a full
    version or as a delta over one.

    Instances are immutable values: :meth:`apply`, :meth:`compacted` and :meth:`with_delta` return new
    indexes (sharing the unchanged base), so a reader's snapshot never changes under it.

    ``allowed`` (sorted int64 row ids) restricts the search *inside* the index, so a result set is never
    filled with rows the caller may not see and then trimmed. ``None`` means every row.

    Example:
        >>> allowed = np.array([3, 7], dtype=np.int64)
        >>> ids, scores = index.search(query, k=10, allowed=allowed)  # doctest: +SKIP
    """

    @property
    def kind(self) -> str:
        """What structure the index is (e.g. an exact or an approximate dense index): part of its recipe."""
        ...

    def __len__(self) -> int:
        """Number of indexed (live) rows."""
        ...

    def row_ids(self) -> np.ndarray:
        """The indexed row ids, ascending."""
        ...

    def search(self, query: Query, k: int, allowed: np.ndarray | None, /) -> tuple[np.ndarray, np.ndarray]:
        """The best ``k`` row ids among ``allowed`` and their scores, best first."""
        ...

    # -- updates -------------------------------------------------------------------------------------------

    def apply(self, removed: np.ndarray, rows: np.ndarray, added: Rows, /) -> Self:
        """A new index without the ``removed`` row ids and with ``added`` (one per row) under ``rows``.

        A row id may be both removed and added (it is then indexed once, with the new content), and
        applying the same change twice gives the same index.
        """
        ...

    def compacted(self) -> Self:
        """The same rows in one base, with no delta (itself when there is no delta)."""
        ...

    def shares_base(self, other: Self, /) -> bool:
        """Whether both are deltas over the same base (so only the delta needs writing)."""
        ...

    def delta_size(self) -> int:
        """Rows in the delta plus deleted rows of the base: what a compaction would fold in."""
        ...

    def main_size(self) -> int:
        """Rows in the base (deleted ones included)."""
        ...

    # -- files ---------------------------------------------------------------------------------------------

    def save(self, folder: Path, /) -> None:
        """Write the whole index (compacted) into an empty folder; the class's ``load`` reads it back."""
        ...

    def save_delta(self, folder: Path, /) -> None:
        """Write only what this index adds to its base (delta rows and the base's deleted rows)."""
        ...

    def with_delta(self, folder: Path, /) -> Self:
        """This (base) index with a delta written by :meth:`save_delta` applied.

        Raises:
            ValueError: the delta is unreadable or does not fit this base.
            OSError: its files cannot be read (missing ones included).
        """
        ...
