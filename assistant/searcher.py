"""The ``Searcher`` seam: candidate generation for one caller, inside the caller's access.

A :class:`Searcher` opens a :class:`SearchView` for a caller's groups and metadata filters; the view answers
the dense and lexical candidate queries, and the reads ranking needs (stored vectors, chunks, documents), all
limited to the rows the caller may see and all from one consistent state of the store. The retriever
(assistant/retrieval.py) fuses, expands, reranks and scores on top and never sees a row outside the view.

Backends:

- :class:`assistant.index.searcher.EmbeddedSearcher`: FAISS and BM25 files derived from the store
  (assistant/index/derived.py), the access filter as an allowed-row set inside each index;
- :class:`assistant.pg.search.PgSearcher`: pgvector and BM25 postings in PostgreSQL, the access filter in the
  WHERE clause of each sub-query, and row-level security as a second guard.

``tests/contract/test_searcher_contract.py`` holds both to the same contract.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

import numpy as np

from assistant.filters import Filters
from assistant.types import Chunk, Document

Run = tuple[np.ndarray, np.ndarray]  # row ids (int64) and their scores (float32), best first


class SearchView(Protocol):
    """What one caller may search, in one state of the store.

    BM25 statistics (document count, average length, document frequencies) are those of the rows the caller
    may *read* (metadata filters restrict the results, not the statistics), so nothing outside the caller's
    access changes a score the caller sees.
    """

    @property
    def generation(self) -> int:
        """The store generation the view reads."""
        ...

    def empty(self) -> bool:
        """Whether the caller may see no row at all (under the filters)."""
        ...

    def dense(self, vector: np.ndarray, k: int) -> Run:
        """The ``k`` rows nearest to ``vector`` (cosine), best first."""
        ...

    def lexical(self, query: str | dict[str, float], k: int) -> Run:
        """The ``k`` best rows by BM25 for query text, or for weighted tokens (already tokenised)."""
        ...

    def hybrid(
        self, query: str | dict[str, float], vector: Callable[[], np.ndarray], k: int
    ) -> tuple[Run, Run]:
        """The dense and the lexical run of one hybrid search: ``dense(vector(), k)`` and ``lexical(query,
        k)``. ``vector`` is called once (it may encode the query); a backend may run the lexical search
        meanwhile."""
        ...

    def expand(self, query: str, passages: Sequence[str], terms: int, weight: float) -> dict[str, float]:
        """RM3-style expansion of ``query`` with the ``terms`` most telling tokens of ``passages``."""
        ...

    def vectors(self, rows: Sequence[int]) -> dict[int, np.ndarray]:
        """The stored passage vectors of visible rows (others left out)."""
        ...

    def chunks(self, rows: Sequence[int]) -> dict[int, Chunk]:
        """Visible chunks by row id (others left out)."""
        ...

    def documents(self, doc_ids: Iterable[str]) -> dict[str, Document]:
        """Readable documents by id (others left out)."""
        ...


class Searcher(Protocol):
    """Opens views for callers and keeps the search structures in step with the store.

    Example:
        >>> with searcher.view(frozenset({"brakes"}), {}) as view:  # doctest: +SKIP
        ...     ids, scores = view.lexical("pad wear limit", 10)
    """

    kind: str  # "embedded" or "postgres"

    def view(self, groups: frozenset[str], filters: Filters) -> AbstractContextManager[SearchView]:
        """A view of what ``groups`` may read under ``filters``, for the duration of the block."""
        ...

    def refresh(self) -> None:
        """Bring the search structures up to the store's current generation now (after a write)."""
        ...

    def verify(self) -> list[str]:
        """Problems with the search structures (empty: healthy)."""
        ...

    def rebuild(self) -> dict[str, int]:
        """Rebuild the search structures from the store; returns what was indexed (``dense``, ``lexical``)."""
        ...
