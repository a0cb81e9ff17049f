"""Hybrid retrieval: dense (FAISS) and lexical (BM25) candidates, fused, limited to what the caller may read.

Access and metadata filters become a set of allowed chunk row ids *before* either index is searched, so no
mode can return, rank or count a chunk from a document outside the caller's groups. Nothing the caller cannot
read changes what the caller sees: dense scores are cosines of the query and one chunk; lexical (BM25)
statistics are computed over the chunks the caller may read (assistant/index/lexical.py); fusion, reranking
and relevance only ever see candidates from the allowed set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from assistant import relevance
from assistant.citations import content_words
from assistant.embedding import Embedder
from assistant.filters import Filters, can_read, check_filters
from assistant.passages import passage_text
from assistant.rerank import Reranker
from assistant.searcher import Run, Searcher, SearchView
from assistant.types import Chunk, Document, Hit, Principal, SearchMode

log = logging.getLogger(__name__)

Fusion = Literal["minmax", "rrf"]
RerankScope = Literal["results", "document"]


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
    # "results": the reranked head is sorted by the blended score; "document": a passage moves only among the
    # places its own document's passages hold in the head, so the reranker orders sections within a document
    # and never lets one document's section outrank another document (docs/retrieval-quality.md).
    rerank_scope: RerankScope = "results"
    max_per_page: int = 0  # diversify: later chunks of an already-listed page or section go after the rest


def _constant(vector: np.ndarray) -> Callable[[], np.ndarray]:
    return lambda: vector


def _minmax(values: np.ndarray) -> np.ndarray:
    span = float(values.max() - values.min()) if len(values) else 0.0
    return (values - values.min()) / span if span > 0 else np.ones_like(values)


class _ChunkCache:
    """Chunks and their documents fetched through the view once per search, whichever stage asks first."""

    def __init__(self, view: SearchView) -> None:
        self.view = view
        self.known: dict[int, Chunk] = {}
        self.documents: dict[str, Document] = {}

    def __call__(self, rows: list[int]) -> dict[int, Chunk]:
        missing = [row for row in rows if row not in self.known]
        if missing:
            found = self.view.chunks(missing)
            self.known.update(found)
            wanted = {c.doc_id for c in found.values()} - self.documents.keys()
            if wanted:
                self.documents.update(self.view.documents(wanted))
        return self.known

    def passage(self, chunk: Chunk) -> str:
        """The chunk's passage as indexed (title and section in front)."""
        document = self.documents.get(chunk.doc_id)
        return passage_text(document.title if document else None, chunk.section, chunk.text)


class Retriever:
    """Searches a store as a given principal, through the backend's searcher (assistant/searcher.py).

    Example:
        >>> hits = retriever.search("pad wear limit", Principal.of("ann", ["brakes"]), k=5)  # doctest: +SKIP
        >>> hits[0].chunk.page, hits[0].document.source  # doctest: +SKIP
        (4, 'brakes/brake-system-design-spec.pdf')
    """

    def __init__(
        self,
        searcher: Searcher,
        embedder: Embedder,
        params: RetrievalParams | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self.searcher = searcher
        self.embedder = embedder
        self.params = params or RetrievalParams()
        self.reranker = reranker

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
        with self.searcher.view(principal.groups, filters or {}) as view:
            if view.empty():
                return []
            params = self.params
            depth = max(k, params.candidates, params.rerank_depth if self.reranker else 0)
            encoded: list[np.ndarray] = []

            def encode() -> np.ndarray:  # once, when the view asks (it may search lexically meanwhile)
                if not encoded:
                    encoded.append(self.embedder.embed_queries([query])[0])
                return encoded[0]

            uses_vector = mode in ("hybrid", "dense")
            ranked = self._combine(
                self._runs(view, query, encode if uses_vector else None, depth, mode), mode
            )
            vector = encode() if uses_vector else None
            chunks = _ChunkCache(view)
            if params.prf_docs > 0 and ranked:
                ranked = self._feedback_round(view, chunks, query, vector, ranked, depth, mode)
            retriever: Literal["dense", "lexical", "fused", "reranked"]
            retriever = "fused" if mode == "hybrid" else mode
            if self.reranker is not None and ranked:
                ranked = self._rerank(chunks, query, ranked)
                retriever = "reranked"
            if params.max_per_page > 0:
                ranked = self._diversify(chunks, ranked[:depth], params.max_per_page)
            rows_hits = self._hits(chunks, ranked[:k], principal, retriever)
            return self._with_relevance(view, query, vector, rows_hits)

    def _with_relevance(
        self, view: SearchView, query: str, vector: np.ndarray | None, rows_hits: list[tuple[int, Hit]]
    ) -> list[Hit]:
        """The hits with their absolute relevance (assistant/relevance.py): the mean of the dense cosine and
        the lexical coverage of each passage; no encoder pass besides the query vector."""
        if not rows_hits:
            return []
        if vector is None:  # lexical mode: the query vector comes from the embedder's query cache when it can
            vector = self.embedder.embed_queries([query])[0]
        words = content_words(query)
        stored = view.vectors([row for row, _ in rows_hits])
        out = []
        for row, hit in rows_hits:
            cosine = float(np.dot(stored[row], vector)) if row in stored else 0.0
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

    @staticmethod
    def _runs(
        view: SearchView,
        query: str | dict[str, float],
        vector: Callable[[], np.ndarray] | None,
        depth: int,
        mode: SearchMode,
    ) -> list[Run]:
        """One (row ids, scores) run per retriever, within the view; ``vector`` gives the query vector."""
        if mode == "hybrid" and vector is not None:
            return list(view.hybrid(query, vector, depth))
        if mode == "dense" and vector is not None:
            return [view.dense(vector(), depth)]
        return [view.lexical(query, depth)]

    def _combine(self, runs: list[Run], mode: SearchMode) -> list[tuple[int, float]]:
        if mode != "hybrid":
            ids, scores = runs[0]
            # Exact ties go by row id, as in fusion: each backend orders its own ties differently.
            ranked = zip(ids.tolist(), scores.tolist(), strict=True)
            return sorted(ranked, key=lambda item: (-item[1], item[0]))
        weights = [self.params.dense_weight, 1.0 - self.params.dense_weight]
        if self.params.fusion == "rrf":
            fused = fuse_rrf(runs, weights, self.params.rrf_k)
        else:
            fused = fuse_minmax(runs, weights)
        return sorted(fused.items(), key=lambda item: (-item[1], item[0]))

    def _feedback_round(
        self,
        view: SearchView,
        cache: _ChunkCache,
        query: str,
        vector: np.ndarray | None,
        ranked: list[tuple[int, float]],
        depth: int,
        mode: SearchMode,
    ) -> list[tuple[int, float]]:
        """Pseudo-relevance feedback: move the dense query towards the top results (Rocchio) and add their
        most telling terms to the lexical query (RM3-style), then search again."""
        params = self.params
        feedback = [row for row, _ in ranked[: params.prf_docs]]
        if vector is not None and params.prf_dense_weight > 0:
            stored = view.vectors(feedback)
            centroid = np.mean([stored[r] for r in feedback if r in stored], axis=0)
            moved = vector + params.prf_dense_weight * centroid
            vector = (moved / max(float(np.linalg.norm(moved)), 1e-9)).astype(np.float32)
        lexical_query: str | dict[str, float] = query
        if mode in ("hybrid", "lexical") and params.prf_terms > 0:
            chunks = cache(feedback)
            passages = [cache.passage(chunks[r]) for r in feedback if r in chunks]
            lexical_query = view.expand(query, passages, params.prf_terms, params.prf_lexical_weight)
        given = None if vector is None else _constant(vector)
        return self._combine(self._runs(view, lexical_query, given, depth, mode), mode)

    def _rerank(
        self,
        cache: _ChunkCache,
        query: str,
        ranked: list[tuple[int, float]],
    ) -> list[tuple[int, float]]:
        """Rerank the head of ``ranked``."""
        assert self.reranker is not None
        head = ranked[: self.params.rerank_depth]
        chunks = cache([row for row, _ in head])
        passages = [cache.passage(chunks[row]) if row in chunks else "" for row, _ in head]
        scores = np.asarray(self.reranker.score(query, passages), dtype=np.float64)
        weight = self.params.rerank_weight
        if weight < 1.0:  # blend with the first-stage score, both min-max normalised over the head
            first = np.asarray([score for _, score in head], dtype=np.float64)
            scores = weight * _minmax(scores) + (1.0 - weight) * _minmax(first)
        if self.params.rerank_scope == "document":
            return self._within_documents(chunks, head, scores.tolist()) + ranked[len(head) :]
        reordered = sorted(
            zip([row for row, _ in head], scores.tolist(), strict=True), key=lambda item: -item[1]
        )
        floor = float(scores.min()) if len(scores) else 0.0
        # Candidates below the reranked head keep their order, below every reranked score.
        tail = [(row, floor - 1.0 - i) for i, (row, _) in enumerate(ranked[len(head) :])]
        return reordered + tail

    @staticmethod
    def _within_documents(
        chunks: dict[int, Chunk], head: list[tuple[int, float]], scores: list[float]
    ) -> list[tuple[int, float]]:
        """``head`` with each document's passages re-sorted by ``scores`` among that document's own places;
        each place keeps its first-stage score, so the order of documents and the scores do not change."""
        places: dict[str, list[int]] = {}
        for i, (row, _) in enumerate(head):
            chunk = chunks.get(row)
            places.setdefault(chunk.doc_id if chunk else f"#{row}", []).append(i)
        out = list(head)
        for slots in places.values():
            by_score = sorted(slots, key=lambda i: -scores[i])
            for slot, i in zip(slots, by_score, strict=True):
                out[slot] = (head[i][0], head[slot][1])
        return out

    @staticmethod
    def _hits(
        cache: _ChunkCache,
        ranked: list[tuple[int, float]],
        principal: Principal,
        retriever: Literal["dense", "lexical", "fused", "reranked"],
    ) -> list[tuple[int, Hit]]:
        chunks = cache([row for row, _ in ranked])
        documents = cache.documents
        hits: list[tuple[int, Hit]] = []
        for row, score in ranked:
            chunk = chunks.get(row)
            document = documents.get(chunk.doc_id) if chunk else None
            # The view already excluded unreadable rows; this re-check guards against a stale view.
            if chunk is None or document is None or not can_read(document, principal.groups):
                continue
            hits.append((row, Hit(chunk, float(score), len(hits) + 1, retriever, document)))
        return hits
