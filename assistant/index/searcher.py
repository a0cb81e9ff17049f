"""The embedded backend's :class:`~assistant.searcher.Searcher`: FAISS and BM25 files derived from the store.

A :class:`Catalog` maps every indexed row to its document for one store generation (updated from the change
log, not re-read, after a write). A caller's groups and filters become a sorted set of allowed row ids, which
each index searches *inside* (assistant/index/base.py); BM25 statistics come from the rows the caller may
read. Allowed sets are cached per (generation, groups, filters), bounded by entries and bytes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from assistant.filters import Filters, can_read, matches
from assistant.index.derived import DerivedIndexes, Snapshot
from assistant.lru import SizedLRU
from assistant.searcher import Run
from assistant.store import Store, StoreChanges
from assistant.types import Chunk, Document

ALLOWED_CACHE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Catalog:
    """Documents and the document of every indexed row, for one store generation."""

    generation: int
    documents: dict[str, Document]
    rowids: np.ndarray
    row_doc: np.ndarray  # index into doc_order for every row
    doc_order: list[str]


def updated_catalog(catalog: Catalog, changes: StoreChanges) -> Catalog:
    """The catalog with the changed documents and their rows replaced (a pass over the row arrays, no store
    scan: the catalog of a million chunks is not read again after every upload)."""
    documents = dict(catalog.documents)
    for doc_id, stored in changes.documents.items():
        if stored is None:
            documents.pop(doc_id, None)
        else:
            documents[doc_id] = stored.document
    doc_order = sorted(documents)
    position = {d: i for i, d in enumerate(doc_order)}
    remap = np.asarray([position.get(d, -1) for d in catalog.doc_order] + [-1], dtype=np.int64)
    added = changes.rows.rowids
    gone = np.union1d(changes.removed, added)
    keep = np.ones(len(catalog.rowids), dtype=bool)
    at = np.searchsorted(catalog.rowids, gone)
    inside = at < len(catalog.rowids)
    at = at[inside]
    keep[at[catalog.rowids[at] == gone[inside]]] = False
    rowids, row_doc = catalog.rowids[keep], remap[catalog.row_doc[keep]]
    where = np.searchsorted(rowids, added)
    added_doc = np.asarray([position.get(d, -1) for d in changes.rows.doc_ids], dtype=np.int64)
    return Catalog(
        changes.generation,
        documents,
        np.insert(rowids, where, added),
        np.insert(row_doc, where, added_doc),
        doc_order,
    )


def _allowed_size(key: tuple[object, ...], rows: np.ndarray | None) -> int:
    """Bytes of one allowed-rows entry: the row ids plus the group and filter strings of its key."""
    _generation, groups, filters = key
    text = sum(len(g) for g in groups) if isinstance(groups, frozenset) else 0
    if isinstance(filters, tuple):
        text += sum(len(k) + sum(len(v) for v in values) for k, values in filters)
    return 256 + text + (rows.nbytes if rows is not None else 0)


class EmbeddedView:
    """One caller's view of one snapshot: allowed rows (``None``: every row) and readable rows (BM25's
    population)."""

    def __init__(
        self,
        store: Store,
        snapshot: Snapshot,
        catalog: Catalog,
        groups: frozenset[str],
        allowed: np.ndarray | None,
        readable: np.ndarray | None,
    ) -> None:
        self._store = store
        self._snapshot = snapshot
        self._catalog = catalog
        self._groups = groups
        self._allowed = allowed
        self._readable = readable

    @property
    def generation(self) -> int:
        return self._snapshot.generation

    def empty(self) -> bool:
        return self._allowed is not None and not len(self._allowed)

    def dense(self, vector: np.ndarray, k: int) -> Run:
        return self._snapshot.dense.search(vector, k, self._allowed)

    def lexical(self, query: str | dict[str, float], k: int) -> Run:
        lexical = self._snapshot.lexical
        if isinstance(query, dict):
            return lexical.search_weighted(query, k, self._allowed, self._readable)
        return lexical.search(query, k, self._allowed, self._readable)

    def hybrid(
        self, query: str | dict[str, float], vector: Callable[[], np.ndarray], k: int
    ) -> tuple[Run, Run]:
        return self.dense(vector(), k), self.lexical(query, k)

    def expand(self, query: str, passages: Sequence[str], terms: int, weight: float) -> dict[str, float]:
        return self._snapshot.lexical.expand(query, passages, terms, weight, self._readable)

    def _visible(self, rows: Sequence[int]) -> list[int]:
        if self._allowed is None:
            return list(rows)
        wanted = np.asarray(rows, dtype=np.int64)
        at = np.searchsorted(self._allowed, wanted).clip(max=max(len(self._allowed) - 1, 0))
        keep = self._allowed[at] == wanted if len(self._allowed) else np.zeros(len(wanted), dtype=bool)
        return [int(r) for r in wanted[keep]]

    def vectors(self, rows: Sequence[int]) -> dict[int, np.ndarray]:
        dense = self._snapshot.dense
        return {row: dense.vector(row) for row in self._visible(rows)}

    def chunks(self, rows: Sequence[int]) -> dict[int, Chunk]:
        found = self._store.chunks_by_rowid(self._visible(rows))
        documents = self._catalog.documents
        return {
            row: chunk
            for row, chunk in found.items()
            if chunk.doc_id in documents and can_read(documents[chunk.doc_id], self._groups)
        }

    def documents(self, doc_ids: Iterable[str]) -> dict[str, Document]:
        documents = self._catalog.documents
        return {d: documents[d] for d in doc_ids if d in documents and can_read(documents[d], self._groups)}


class EmbeddedSearcher:
    """Searches the derived indexes of a store (assistant/index/derived.py).

    Example:
        >>> searcher = EmbeddedSearcher(store, DerivedIndexes(store, home, model, embed))  # doctest: +SKIP
        >>> with searcher.view(frozenset({"public"}), {}) as view:  # doctest: +SKIP
        ...     view.lexical("pad wear", 5)
    """

    kind = "embedded"

    def __init__(self, store: Store, indexes: DerivedIndexes) -> None:
        self.store = store
        self.indexes = indexes
        self._catalog: Catalog | None = None
        self._lock = threading.Lock()  # the API searches from several threads
        # Keyed by caller input (groups, filters): bounded by entries and by bytes (keys and row arrays).
        self._allowed = SizedLRU[tuple[object, ...], np.ndarray | None](
            256, ALLOWED_CACHE_BYTES, _allowed_size
        )

    @contextmanager
    def view(self, groups: frozenset[str], filters: Filters) -> Iterator[EmbeddedView]:
        snapshot = self.indexes.current()
        with self._lock:
            catalog = self._catalog_for(snapshot)
            allowed = self._allowed_rows(catalog, groups, filters)
            # BM25 statistics come from every document the caller may read (metadata filters only restrict).
            readable = self._allowed_rows(catalog, groups, {}) if filters else allowed
        yield EmbeddedView(self.store, snapshot, catalog, groups, allowed, readable)

    def refresh(self) -> None:
        self.indexes.current()

    def verify(self) -> list[str]:
        return self.indexes.verify()

    def rebuild(self) -> dict[str, int]:
        snapshot = self.indexes.rebuild()
        return {"dense": len(snapshot.dense), "lexical": len(snapshot.lexical)}

    def _catalog_for(self, snapshot: Snapshot) -> Catalog:
        catalog = self._catalog
        if catalog is not None and catalog.generation == snapshot.generation:
            return catalog
        changes = self.store.changes_since(catalog.generation) if catalog is not None else None
        if catalog is not None and changes is not None:
            catalog = updated_catalog(catalog, changes)
        else:
            documents = {s.document.doc_id: s.document for s in self.store.documents()}
            rowids, doc_ids = self.store.row_documents()
            doc_order = sorted(documents)
            position = {d: i for i, d in enumerate(doc_order)}
            row_doc = np.asarray([position.get(d, -1) for d in doc_ids], dtype=np.int64)
            catalog = Catalog(snapshot.generation, documents, rowids, row_doc, doc_order)
        self._catalog = catalog
        self._allowed.clear()
        return catalog

    def _allowed_rows(self, catalog: Catalog, groups: frozenset[str], filters: Filters) -> np.ndarray | None:
        """Sorted row ids the caller may see under ``filters``; ``None`` when that is every row."""
        key = (catalog.generation, groups, tuple(sorted(filters.items())))
        if key in self._allowed:
            return self._allowed.get(key)
        readable = np.asarray(
            [
                can_read(catalog.documents[d], groups) and matches(catalog.documents[d], filters)
                for d in catalog.doc_order
            ],
            dtype=bool,
        )
        if readable.all() and len(catalog.rowids):
            allowed: np.ndarray | None = None
        else:
            mask = readable[catalog.row_doc] if len(catalog.row_doc) else np.zeros(0, dtype=bool)
            allowed = catalog.rowids[mask]
        self._allowed.put(key, allowed)
        return allowed
