"""Hybrid retrieval: dense (FAISS) and lexical (BM25) candidates, fused, limited to what the caller may read.

Access and metadata filters become a set of allowed chunk row ids *before* either index is searched, so no
mode can return, rank or count a chunk from a document outside the caller's groups. Nothing the caller cannot
read changes what the caller sees: dense scores are cosines of the query and one chunk; lexical (BM25)
statistics are computed over the chunks the caller may read (assistant/index/lexical.py); fusion, reranking
and relevance only ever see candidates from the allowed set.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from assistant import relevance
from assistant.citations import content_words
from assistant.embedding import Embedder
from assistant.filters import Filters, can_read, check_filters, matches
from assistant.index.derived import DerivedIndexes, Snapshot
from assistant.lru import SizedLRU
from assistant.passages import passage_text
from assistant.rerank import Reranker
from assistant.store import Store, StoreChanges
from assistant.types import Chunk, Document, Hit, Principal, SearchMode

log = logging.getLogger(__name__)

Fusion = Literal["minmax", "rrf"]


@dataclass(frozen=True, slots=True)
class Catalog:
    """Documents and the document of every indexed row, for one store generation."""

    generation: int
    documents: dict[str, Document]
    rowids: np.ndarray
    row_doc: np.ndarray  # index into doc_order for every row
    doc_order: list[str]


def _updated_catalog(catalog: Catalog, changes: StoreChanges) -> Catalog:
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


def fuse_minmax(runs: list[tuple[np.ndarray, np.ndarray]], weights: list[float]) -> dict[int, float]:
    """Weighted sum of min-max normalised scores; a row missing from a run scores 0 there."""
    fused: dict[int, float] = {}
    for (ids, scores), weight in zip(runs, weights, strict=True):
        if not len(ids):
            continue
        low, high = float(scores.min()), float(scores.max())
        span = high - low
        for row, score in zip(ids.tolist(), scores.tolist(), strict=True):
            norm = (score - low) / span if span > 0 else 1.0
            fused[row] = fused.get(row, 0.0) + weight * norm
    return fused


def fuse_rrf(
    runs: list[tuple[np.ndarray, np.ndarray]], weights: list[float], k: int = 60
) -> dict[int, float]:
    """Reciprocal rank fusion: sum of ``weight / (k + rank)``."""
    fused: dict[int, float] = {}
    for (ids, _scores), weight in zip(runs, weights, strict=True):
        for rank, row in enumerate(ids.tolist(), start=1):
            fused[row] = fused.get(row, 0.0) + weight / (k + rank)
    return fused


@dataclass(frozen=True, slots=True)
class RetrievalParams:
    """How candidates are gathered, fused, expanded and reranked (all from ``Settings``)."""

    candidates: int = 100
    fusion: Fusion = "minmax"
    dense_weight: float = 0.5
    rrf_k: int = 60
    prf_docs: int = 0  # pseudo-relevance feedback: how many top fused chunks feed the second round (0 = off)
    prf_dense_weight: float = 0.5  # Rocchio: query + weight * mean(feedback vectors)
    prf_terms: int = 0  # RM3-style expansion terms for BM25 (0 = off)
    prf_lexical_weight: float = 0.3  # weight of the expansion terms against the original query
    rerank_depth: int = 30
    rerank_weight: float = 1.0  # 1 = reranker score alone; below 1 blends in the first-stage score
    max_per_page: int = 0  # diversify: later chunks of an already-listed page or section go after the rest


ALLOWED_CACHE_BYTES = 64 * 1024 * 1024


def _allowed_size(key: tuple[object, ...], rows: np.ndarray | None) -> int:
    """Bytes of one allowed-rows entry: the row ids plus the group and filter strings of its key."""
    _generation, groups, filters = key
    text = sum(len(g) for g in groups) if isinstance(groups, frozenset) else 0
    if isinstance(filters, tuple):
        text += sum(len(k) + sum(len(v) for v in values) for k, values in filters)
    return 256 + text + (rows.nbytes if rows is not None else 0)


def _minmax(values: np.ndarray) -> np.ndarray:
    span = float(values.max() - values.min()) if len(values) else 0.0
    return (values - values.min()) / span if span > 0 else np.ones_like(values)


class _ChunkCache:
    """Chunks fetched from the store once per search, whichever stage asks first."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.known: dict[int, Chunk] = {}

    def __call__(self, rows: list[int]) -> dict[int, Chunk]:
        missing = [row for row in rows if row not in self.known]
        if missing:
            self.known.update(self.store.chunks_by_rowid(missing))
        return self.known


class Retriever:
    """Searches the derived indexes of a store as a given principal.

    Example:
        >>> hits = retriever.search("pad wear limit", Principal.of("ann", ["brakes"]), k=5)  # doctest: +SKIP
        >>> hits[0].chunk.page, hits[0].document.source  # doctest: +SKIP
        (4, 'brakes/brake-system-design-spec.pdf')
    """

    def __init__(
        self,
        store: Store,
        indexes: DerivedIndexes,
        embedder: Embedder,
        params: RetrievalParams | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self.store = store
        self.indexes = indexes
        self.embedder = embedder
        self.params = params or RetrievalParams()
        self.reranker = reranker
        self._catalog: Catalog | None = None
        self._cache_lock = threading.Lock()  # the API searches from several threads
        # Keyed by caller input (groups, filters): bounded by entries and by bytes (keys and row arrays).
        self._allowed = SizedLRU[tuple[object, ...], np.ndarray | None](
            256, ALLOWED_CACHE_BYTES, _allowed_size
        )

    def model_ids(self) -> list[str]:
        """Models besides the embedder that shape the ranking (rerankers)."""
        return [self.reranker.model_id] if self.reranker is not None else []

    def search(
        self,
        query: str,
        principal: Principal,
        k: int = 10,
        mode: SearchMode = "hybrid",
        filters: Filters | None = None,
    ) -> list[Hit]:
        """The ``k`` best chunks for ``query`` among the documents ``principal`` may read.

        Raises:
            FilterError: ``filters`` are over a limit (assistant.filters.check_filters).
        """
        check_filters(filters or {})
        query = query.strip()
        if not query or k <= 0:
            return []
        snapshot = self.indexes.current()
        with self._cache_lock:
            catalog = self._catalog_for(snapshot)
            allowed = self._allowed_rows(catalog, principal.groups, filters or {})
            # BM25 statistics come from every document the caller may read (metadata filters only restrict).
            readable = self._allowed_rows(catalog, principal.groups, {}) if filters else allowed
        if allowed is not None and not len(allowed):
            return []
        params = self.params
        depth = max(k, params.candidates, params.rerank_depth if self.reranker else 0)
        vector = self.embedder.embed_queries([query])[0] if mode in ("hybrid", "dense") else None
        ranked = self._combine(self._runs(snapshot, query, vector, depth, (allowed, readable), mode), mode)
        chunks = _ChunkCache(self.store)
        if params.prf_docs > 0 and ranked:
            ranked = self._feedback_round(
                snapshot, catalog, chunks, query, vector, ranked, depth, (allowed, readable), mode
            )
        retriever: Literal["dense", "lexical", "fused", "reranked"] = "fused" if mode == "hybrid" else mode
        if self.reranker is not None and ranked:
            ranked = self._rerank(catalog, chunks, query, ranked)
            retriever = "reranked"
        if params.max_per_page > 0:
            ranked = self._diversify(chunks, ranked[:depth], params.max_per_page)
        rows_hits = self._hits(chunks, ranked[:k], catalog, principal, retriever)
        return self._with_relevance(snapshot, query, vector, rows_hits)

    def _with_relevance(
        self, snapshot: Snapshot, query: str, vector: np.ndarray | None, rows_hits: list[tuple[int, Hit]]
    ) -> list[Hit]:
        """The hits with their absolute relevance (assistant/relevance.py): the mean of the dense cosine and
        the lexical coverage of each passage; no encoder pass besides the query vector."""
        if not rows_hits:
            return []
        if vector is None:  # lexical mode: the query vector comes from the embedder's query cache when it can
            vector = self.embedder.embed_queries([query])[0]
        words = content_words(query)
        out = []
        for row, hit in rows_hits:
            cosine = float(np.dot(snapshot.dense.vector(row), vector))
            passage = passage_text(hit.document.title, hit.chunk.section, hit.chunk.text)
            out.append(replace(hit, relevance=relevance.of(cosine, relevance.coverage(words, passage))))
        return out

    def _diversify(
        self, cache: _ChunkCache, ranked: list[tuple[int, float]], limit: int
    ) -> list[tuple[int, float]]:
        """Keep at most ``limit`` chunks per page (or section) in front; the others follow in order."""
        chunks = cache([row for row, _ in ranked])
        seen: dict[tuple[str, object], int] = {}
        head: list[tuple[int, float]] = []
        tail: list[tuple[int, float]] = []
        for row, score in ranked:
            chunk = chunks.get(row)
            key = (
                (chunk.doc_id, chunk.page if chunk.page is not None else chunk.section)
                if chunk
                else ("", row)
            )
            seen[key] = seen.get(key, 0) + 1
            (head if seen[key] <= limit else tail).append((row, score))
        # Demoted chunks keep their order; their scores are capped so the list stays descending.
        cap = head[-1][1] if head else 0.0
        return head + [(row, min(score, cap) - 1e-6 * (i + 1)) for i, (row, score) in enumerate(tail)]

    def _runs(
        self,
        snapshot: Snapshot,
        query: str | dict[str, float],
        vector: np.ndarray | None,
        depth: int,
        rows: tuple[np.ndarray | None, np.ndarray | None],
        mode: SearchMode,
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """One (row ids, scores) run per index, within ``rows`` = (allowed, readable); ``None``: every row."""
        allowed, readable = rows
        runs = []
        if mode in ("hybrid", "dense") and vector is not None:
            runs.append(snapshot.dense.search(vector, depth, allowed))
        if mode in ("hybrid", "lexical"):
            if isinstance(query, dict):
                runs.append(snapshot.lexical.search_weighted(query, depth, allowed, readable))
            else:
                runs.append(snapshot.lexical.search(query, depth, allowed, readable))
        return runs

    def _combine(
        self, runs: list[tuple[np.ndarray, np.ndarray]], mode: SearchMode
    ) -> list[tuple[int, float]]:
        if mode != "hybrid":
            ids, scores = runs[0]
            return list(zip(ids.tolist(), scores.tolist(), strict=True))
        weights = [self.params.dense_weight, 1.0 - self.params.dense_weight]
        if self.params.fusion == "rrf":
            fused = fuse_rrf(runs, weights, self.params.rrf_k)
        else:
            fused = fuse_minmax(runs, weights)
        return sorted(fused.items(), key=lambda item: (-item[1], item[0]))

    def _feedback_round(
        self,
        snapshot: Snapshot,
        catalog: Catalog,
        cache: _ChunkCache,
        query: str,
        vector: np.ndarray | None,
        ranked: list[tuple[int, float]],
        depth: int,
        rows: tuple[np.ndarray | None, np.ndarray | None],
        mode: SearchMode,
    ) -> list[tuple[int, float]]:
        """Pseudo-relevance feedback: move the dense query towards the top results (Rocchio) and add their
        most telling terms to the lexical query (RM3-style), then search again."""
        params = self.params
        feedback = [row for row, _ in ranked[: params.prf_docs]]
        if vector is not None and params.prf_dense_weight > 0:
            centroid = np.mean([snapshot.dense.vector(r) for r in feedback], axis=0)
            moved = vector + params.prf_dense_weight * centroid
            vector = (moved / max(float(np.linalg.norm(moved)), 1e-9)).astype(np.float32)
        lexical_query: str | dict[str, float] = query
        if mode in ("hybrid", "lexical") and params.prf_terms > 0:
            chunks = cache(feedback)
            passages = [self._passage(catalog, chunks[r]) for r in feedback if r in chunks]
            lexical_query = snapshot.lexical.expand(
                query, passages, params.prf_terms, params.prf_lexical_weight, rows[1]
            )
        return self._combine(self._runs(snapshot, lexical_query, vector, depth, rows, mode), mode)

    def _rerank(
        self,
        catalog: Catalog,
        cache: _ChunkCache,
        query: str,
        ranked: list[tuple[int, float]],
    ) -> list[tuple[int, float]]:
        """Rerank the head of ``ranked``."""
        assert self.reranker is not None
        head = ranked[: self.params.rerank_depth]
        chunks = cache([row for row, _ in head])
        passages = [self._passage(catalog, chunks[row]) if row in chunks else "" for row, _ in head]
        scores = np.asarray(self.reranker.score(query, passages), dtype=np.float64)
        weight = self.params.rerank_weight
        if weight < 1.0:  # blend with the first-stage score, both min-max normalised over the head
            first = np.asarray([score for _, score in head], dtype=np.float64)
            scores = weight * _minmax(scores) + (1.0 - weight) * _minmax(first)
        reordered = sorted(
            zip([row for row, _ in head], scores.tolist(), strict=True), key=lambda item: -item[1]
        )
        floor = float(scores.min()) if len(scores) else 0.0
        # Candidates below the reranked head keep their order, below every reranked score.
        tail = [(row, floor - 1.0 - i) for i, (row, _) in enumerate(ranked[len(head) :])]
        return reordered + tail

    @staticmethod
    def _passage(catalog: Catalog, chunk: Chunk) -> str:
        document = catalog.documents.get(chunk.doc_id)
        return passage_text(document.title if document else None, chunk.section, chunk.text)

    def _hits(
        self,
        cache: _ChunkCache,
        ranked: list[tuple[int, float]],
        catalog: Catalog,
        principal: Principal,
        retriever: Literal["dense", "lexical", "fused", "reranked"],
    ) -> list[tuple[int, Hit]]:
        chunks = cache([row for row, _ in ranked])
        hits: list[tuple[int, Hit]] = []
        for row, score in ranked:
            chunk = chunks.get(row)
            document = catalog.documents.get(chunk.doc_id) if chunk else None
            # The allowed set already excluded unreadable rows; this re-check guards against a stale catalog.
            if chunk is None or document is None or not can_read(document, principal.groups):
                continue
            hits.append((row, Hit(chunk, float(score), len(hits) + 1, retriever, document)))
        return hits

    def _catalog_for(self, snapshot: Snapshot) -> Catalog:
        catalog = self._catalog
        if catalog is not None and catalog.generation == snapshot.generation:
            return catalog
        changes = self.store.changes_since(catalog.generation) if catalog is not None else None
        if catalog is not None and changes is not None:
            catalog = _updated_catalog(catalog, changes)
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
