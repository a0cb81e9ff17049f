"""When to refuse: the evidence that retrieval found something relevant, and the threshold below which eka
says the documents do not cover the question instead of answering.

The fused and reranked scores are normalised per query (the best hit always scores near 1), so they cannot
tell "found it" from "found the least bad passage". The evidence here is absolute: the best relevance
(assistant/relevance.py) among the hits an answer would use, where a hit's relevance is the mean of

- *dense*: the cosine between the query vector and the hit's stored passage vector ("about the same thing");
- *lexical coverage*: the share of the question's content words found in the hit's passage, which notices
  when some words of the question, such as a model name, a quantity or a campaign id, match nothing there.

Neither part runs the encoder again: the query vector is the one the search computed (the embedder keeps
recent query vectors), the passage vectors are stored, and coverage is a set intersection. The rule and its
threshold (``EKA_REFUSAL_THRESHOLD``) were calibrated on the dev questions against dense alone, lexical
coverage (plain and IDF-weighted), late interaction and their combinations (``python -m eval.bench.answer
--calibrate``; the table is in docs/answering.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant import relevance
from assistant.citations import content_words
from assistant.embedding import Embedder
from assistant.passages import passage_text
from assistant.store import Store
from assistant.types import Hit


class EvidenceScorer:
    """Scores how well the hits of a query are supported by the index, on an absolute scale.

    Args:
        store: the store holding the hits' passage vectors.
        embedder: embeds the query (a repeat of the search's own query comes from its cache).
        model_id: the embedding model whose stored vectors are compared.

    Example:
        >>> EvidenceScorer(store, embedder, model_id).evidence("pad wear limit", hits)  # doctest: +SKIP
        0.71
    """

    def __init__(self, store: Store, embedder: Embedder, model_id: str) -> None:
        self.store = store
        self.embedder = embedder
        self.model_id = model_id

    def relevances(self, query: str, hits: Sequence[Hit]) -> list[float]:
        """The relevance of each hit that has a stored vector (assistant/relevance.py), in hit order."""
        if not hits:
            return []
        vectors = self.store.chunk_vectors(self.model_id, [h.chunk.chunk_id for h in hits])
        if not vectors:
            return []
        query_vector = self.embedder.embed_queries([query])[0]
        words = content_words(query)
        out = []
        for hit in hits:
            vector = vectors.get(hit.chunk.chunk_id)
            if vector is None:
                continue
            passage = passage_text(hit.document.title, hit.chunk.section, hit.chunk.text)
            out.append(relevance.of(float(np.dot(vector, query_vector)), relevance.coverage(words, passage)))
        return out

    def evidence(self, query: str, hits: Sequence[Hit]) -> float:
        """The best relevance among ``hits`` (0 with no hits)."""
        return max(self.relevances(query, hits), default=0.0)
