"""The ``Reranker`` seam: re-scores the best fused candidates of a query.

No cross-encoder ships with weights on PyPI today; when one does, it drops in here as another ``Reranker``.
What is available offline is measured in the evaluation (see docs/retrieval-quality.md):

- ``late-interaction``: ColBERT-style MaxSim between the query's and each candidate's token vectors from the
  embedding model itself (computed on the fly for the candidates: an encoder pass over them per query, about
  97 % of a search's time). Not the default since issue 12: on the dev sets it did not pay for that pass.
- ``heading``: cosine between the query vector and the vector of each candidate's innermost section heading
  (0 for a passage without one); heading vectors are computed on first sight and kept in a small cache.
  Measured (docs/retrieval-quality.md, issue 12 item 3 follow-up): it lifts the samples but not engdocs-dev or
  SciFact train, and a cold cache costs an encoder pass over up to ``rerank_depth`` headings; not the default.
- ``coverage``: the share of the query's content words in each passage (no model); not the default.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from assistant.citations import content_words
from assistant.embedding import Embedder, SentenceTransformerEmbedder
from assistant.lru import SizedLRU
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


class HeadingReranker:
    """Cosine between the query vector and each passage's innermost heading (``passage_heading``).

    The query vector comes from the embedder's query cache (the search has just computed it); a heading seen
    for the first time costs one short encoder input, batched with the others of the same query, and is then
    kept (``HEADING_CACHE_ENTRIES``). A passage without a heading scores 0.
    """

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.model_id = f"heading-similarity:{embedder.model_id}"
        self._vectors = SizedLRU[str, np.ndarray](
            HEADING_CACHE_ENTRIES, HEADING_CACHE_BYTES, lambda text, vector: 64 + len(text) + vector.nbytes
        )

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        headings = [passage_heading(p) for p in passages]
        known = {h: v for h in set(headings) if h and (v := self._vectors.get(h)) is not None}
        missing = [h for h in dict.fromkeys(headings) if h and h not in known]
        if missing:
            for heading, row in zip(missing, self.embedder.embed_passages(missing), strict=True):
                vector = row.copy()  # not a view that keeps the whole batch alive in the cache
                self._vectors.put(heading, vector)
                known[heading] = vector
        vector = self.embedder.embed_queries([query])[0]
        return [float(np.dot(known[h], vector)) if h else 0.0 for h in headings]


def make_reranker(name: str, embedder: SentenceTransformerEmbedder) -> Reranker | None:
    """The reranker called ``name`` (``none`` gives None).

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
        return HeadingReranker(embedder)
    raise ValueError(f"unknown reranker {name!r}; choose none, coverage, heading or late-interaction")
