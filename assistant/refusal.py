"""When to refuse: the evidence that retrieval found something relevant, and the threshold below which eka
says the documents do not cover the question instead of answering.

The fused and reranked scores are normalised per query (the best hit always scores near 1), so they cannot
tell "found it" from "found the least bad passage". The evidence here is absolute: the best cosine similarity
between the query and a hit's stored passage vector. The threshold is calibrated on the dev questions
(``python -m eval.bench.answer --calibrate``; docs/answering.md).
"""

from __future__ import annotations

import numpy as np

from assistant.embedding import Embedder
from assistant.store import Store
from assistant.types import Hit


class EvidenceScorer:
    """Scores how well the hits of a query are supported by the index, on an absolute scale.

    Example:
        >>> EvidenceScorer(store, embedder, model_id).evidence("pad wear limit", hits)  # doctest: +SKIP
        0.71
    """

    def __init__(self, store: Store, embedder: Embedder, model_id: str) -> None:
        self.store = store
        self.embedder = embedder
        self.model_id = model_id

    def evidence(self, query: str, hits: tuple[Hit, ...] | list[Hit]) -> float:
        """The best cosine similarity between ``query`` and a hit's passage (0 with no hits)."""
        if not hits:
            return 0.0
        vectors = self.store.chunk_vectors(self.model_id, [h.chunk.chunk_id for h in hits])
        if not vectors:
            return 0.0
        query_vector = self.embedder.embed_queries([query])[0]
        return float(max(np.dot(v, query_vector) for v in vectors.values()))
