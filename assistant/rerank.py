"""The ``Reranker`` seam: re-scores the best fused candidates of a query.

No cross-encoder ships with weights on PyPI today; when one does, it drops in here as another ``Reranker``.
What is available offline is measured in the evaluation (see docs/retrieval-quality.md):

- ``late-interaction``: ColBERT-style MaxSim between the query's and each candidate's token vectors from the
  embedding model itself (computed on the fly for the candidates: an encoder pass over them per query, about
  97 % of a search's time). Not the default since issue 12: on the dev sets it did not pay for that pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from assistant.citations import content_words
from assistant.embedding import SentenceTransformerEmbedder
from assistant.relevance import coverage


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
    raise ValueError(f"unknown reranker {name!r}; choose none, coverage or late-interaction")
