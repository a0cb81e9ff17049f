"""The ``Reranker`` seam: re-scores the best fused candidates of a query.

No cross-encoder ships with weights on PyPI today; when one does, it drops in here as another ``Reranker``.
What is available offline is measured in the evaluation (see docs/retrieval-quality.md):

- ``heading`` (the default): cosine between the query vector and the vector of each candidate's innermost
  section heading (0 for a passage without one), blended with the fused score. Heading vectors are computed at
  ingest into the embedding cache, so a search costs one dot product per candidate; a heading the cache lacks
  (a store ingested before pipeline 5, another model) is encoded once and kept in memory. By default it only
  reorders passages among their own document's places (``rerank_scope=document``): it picks the section of a
  document that answers the question, and never lets a heading lift another document over the first stage's
  choice. Measured in docs/retrieval-quality.md (issue 12, follow-up 2).
- ``late-interaction``: ColBERT-style MaxSim between the query's and each candidate's token vectors from the
  embedding model itself (computed on the fly for the candidates: an encoder pass over them per query, about
  97 % of a search's time). Not the default since issue 12: on the dev sets it did not pay for that pass.
- ``coverage``: the share of the query's content words in each passage (no model); not the default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

import numpy as np

from assistant.citations import content_words
from assistant.embedding import Embedder, SentenceTransformerEmbedder
from assistant.lru import SizedLRU
from assistant.passages import text_hash
from assistant.relevance import coverage
from assistant.types import SECTION_SEPARATOR

HEADING_CACHE_ENTRIES = 16_384
HEADING_CACHE_BYTES = 32 * 1024 * 1024


class Reranker(Protocol):
    """Scores (query, passage) pairs; higher is better.

    Example:
        >>> scores = reranker.score("pad wear", ["Pads wear to 2 mm.", "Coolant flow"])  # doctest: +SKIP
    """

    model_id: str

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        """One relevance score per passage."""
        ...


class LateInteractionReranker:
    """MaxSim over the embedding model's token vectors (sum over query tokens of the best passage token)."""

    def __init__(self, embedder: SentenceTransformerEmbedder) -> None:
        self.embedder = embedder
        self.model_id = f"late-interaction:{embedder.model_id}"

    def _tokens(self, texts: Sequence[str]) -> list[np.ndarray]:
        model = self.embedder.model()
        outputs = model.encode(
            list(texts),
            output_value="token_embeddings",
            batch_size=32,
            convert_to_numpy=False,
            show_progress_bar=False,
        )
        vectors = []
        for tokens in outputs:
            array = np.asarray(
                tokens.float().cpu().numpy() if hasattr(tokens, "cpu") else tokens, dtype=np.float32
            )
            array = array[1:-1] if len(array) > 2 else array  # drop [CLS] and [SEP]
            vectors.append(array / np.maximum(np.linalg.norm(array, axis=1, keepdims=True), 1e-9))
        return vectors

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        query_tokens = self._tokens([query])[0]
        return [float((query_tokens @ p.T).max(axis=1).mean()) for p in self._tokens(passages)]


class CoverageReranker:
    """The share of the query's content words found in each passage (no model: a set intersection each).

    Blended with the fused score it favours, among the best candidates, the passages that contain every word
    of the question (a model name, an identifier, a quantity), at no encoder cost.

    Example:
        >>> CoverageReranker().score("pad wear limit", ["The pad wear limit is 2 mm.", "Pad colour"])
        [1.0, 0.3333333333333333]
    """

    model_id = "lexical-coverage"

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        words = content_words(query)
        return [coverage(words, passage) for passage in passages]


def passage_heading(passage: str) -> str:
    """The innermost section heading of a passage built by ``passages.passage_text`` (``title | section
    path`` on its first line); empty when the passage has no ``title | section`` line (no section, or no title
    to tell the section from).

    Example:
        >>> passage_heading("Brake Spec | 4 Pads > 4.2 Wear\\nMinimum pad thickness is 2 mm.")
        '4.2 Wear'
        >>> passage_heading("Brake Spec\\nMinimum pad thickness is 2 mm.")
        ''
    """
    head, newline, _text = passage.partition("\n")
    _title, bar, section = head.rpartition(" | ")
    if not newline or not bar:
        return ""
    return section.rsplit(SECTION_SEPARATOR, 1)[-1].strip()


VectorLookup = Callable[[Sequence[str]], dict[str, np.ndarray]]  # texts -> the vectors known for them


class VectorCache(Protocol):
    """The part of a store that holds the embedding cache (both backends)."""

    def cached_vectors(self, model_id: str, text_hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """Vectors cached for these text hashes with this model (hashes with none are left out)."""
        ...


def stored_vectors(store: VectorCache, model_id: str) -> VectorLookup:
    """Looks texts up in a store's embedding cache, where ingest puts every section heading's vector."""

    def lookup(texts: Sequence[str]) -> dict[str, np.ndarray]:
        by_hash = {text_hash(t): t for t in texts}
        return {by_hash[h]: v for h, v in store.cached_vectors(model_id, by_hash).items()}

    return lookup


class HeadingStore(VectorCache, Protocol):
    """The part of a store that takes vectors into its embedding cache."""

    def put_vectors(self, model_id: str, vectors: dict[str, np.ndarray]) -> None:
        """Add vectors (text hash -> vector) to the cache."""
        ...


def store_heading_vectors(
    store: HeadingStore, embedder: Embedder, passages: Iterable[str], batch: int = 1024
) -> int:
    """Embed every distinct section heading of ``passages`` that the store's cache lacks for the embedder's
    model and cache it (as ingest does): after ``eka index rebuild`` for a new model, searches then never
    encode a heading. Returns how many were embedded."""
    headings = {text_hash(h): h for h in map(passage_heading, passages) if h}
    done = 0
    hashes = sorted(headings)
    for start in range(0, len(hashes), batch):
        part = hashes[start : start + batch]
        known = store.cached_vectors(embedder.model_id, part)
        todo = [h for h in part if h not in known]
        if todo:
            vectors = embedder.embed_passages([headings[h] for h in todo])
            store.put_vectors(embedder.model_id, dict(zip(todo, vectors, strict=True)))
            done += len(todo)
    return done


class HeadingReranker:
    """Cosine between the query vector and each passage's innermost heading (``passage_heading``).

    The query vector comes from the embedder's query cache (the search has just computed it). Heading vectors
    come from memory, then from ``stored`` (the store's embedding cache, filled at ingest), and only then from
    the encoder, in one batch per query; either way they are kept in memory (``HEADING_CACHE_ENTRIES``). A
    passage without a heading scores 0.
    """

    def __init__(self, embedder: Embedder, stored: VectorLookup | None = None) -> None:
        self.embedder = embedder
        self.stored = stored
        self.model_id = f"heading-similarity:{embedder.model_id}"
        self._vectors = SizedLRU[str, np.ndarray](
            HEADING_CACHE_ENTRIES, HEADING_CACHE_BYTES, lambda text, vector: 64 + len(text) + vector.nbytes
        )
        self.encoded = 0  # headings that had to go through the encoder (none, when ingest stored them all)

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        headings = [passage_heading(p) for p in passages]
        known = {h: v for h in set(headings) if h and (v := self._vectors.get(h)) is not None}
        missing = [h for h in dict.fromkeys(headings) if h and h not in known]
        if missing and self.stored is not None:
            for heading, vector in self.stored(missing).items():
                self._vectors.put(heading, vector)
                known[heading] = vector
            missing = [h for h in missing if h not in known]
        if missing:
            self.encoded += len(missing)
            for heading, row in zip(missing, self.embedder.embed_passages(missing), strict=True):
                vector = row.copy()  # not a view that keeps the whole batch alive in the cache
                self._vectors.put(heading, vector)
                known[heading] = vector
        vector = self.embedder.embed_queries([query])[0]
        return [float(np.dot(known[h], vector)) if h else 0.0 for h in headings]


def make_reranker(
    name: str, embedder: SentenceTransformerEmbedder, stored: VectorLookup | None = None
) -> Reranker | None:
    """The reranker called ``name`` (``none`` gives None); ``stored`` looks up vectors computed at ingest.

    Raises:
        ValueError: an unknown name.
    """
    if name in ("", "none"):
        return None
    if name == "late-interaction":
        return LateInteractionReranker(embedder)
    if name == "coverage":
        return CoverageReranker()
    if name == "heading":
        return HeadingReranker(embedder, stored)
    raise ValueError(f"unknown reranker {name!r}; choose none, coverage, heading or late-interaction")
