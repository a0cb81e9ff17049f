"""When to refuse: the evidence that retrieval found something relevant, and the threshold below which eka
says the documents do not cover the question instead of answering.

The fused and reranked scores are normalised per query (the best hit always scores near 1), so they cannot
tell "found it" from "found the least bad passage". The evidence here is absolute: the mean of two
similarities between the query and what was retrieved, both on a cosine scale (about 0.3 for unrelated text,
0.8 and more for a passage that states the answer):

- *dense*: the best cosine between the query vector and a hit's stored passage vector;
- *late interaction*: the MaxSim of the query and the top hit's passage (each query token's best cosine with
  a passage token, averaged over the query tokens), which notices when some words of the question, such as a
  model name, a quantity or a campaign id, match nothing in the passage.

The rule and its threshold (``EKA_REFUSAL_THRESHOLD``) were calibrated on the dev questions against dense
alone, lexical coverage (plain and IDF-weighted), late interaction alone and their combinations
(``python -m eval.bench.answer --calibrate``; the table is in docs/answering.md).
"""

from __future__ import annotations

import numpy as np

from assistant.embedding import Embedder, SentenceTransformerEmbedder
from assistant.passages import passage_text
from assistant.rerank import LateInteractionReranker
from assistant.store import Store
from assistant.types import Hit


class EvidenceScorer:
    """Scores how well the hits of a query are supported by the index, on an absolute scale.

    Args:
        store: the store holding the hits' passage vectors.
        embedder: embeds the query; its token vectors give the late-interaction part (an embedder without
            token vectors, such as a test fake, gives the dense part alone).
        model_id: the embedding model whose stored vectors are compared.
        late_interaction: include the late-interaction part (the calibrated rule); ``False`` is dense only.

    Example:
        >>> EvidenceScorer(store, embedder, model_id).evidence("pad wear limit", hits)  # doctest: +SKIP
        0.71
    """

    def __init__(
        self, store: Store, embedder: Embedder, model_id: str, late_interaction: bool = True
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.model_id = model_id
        self.late = (
            LateInteractionReranker(embedder)
            if late_interaction and isinstance(embedder, SentenceTransformerEmbedder)
            else None
        )

    def dense(self, query: str, hits: tuple[Hit, ...] | list[Hit]) -> float:
        """The best cosine similarity between ``query`` and a hit's stored passage vector (0 with no hits)."""
        if not hits:
            return 0.0
        vectors = self.store.chunk_vectors(self.model_id, [h.chunk.chunk_id for h in hits])
        if not vectors:
            return 0.0
        query_vector = self.embedder.embed_queries([query])[0]
        return float(max(np.dot(v, query_vector) for v in vectors.values()))

    def late_interaction(self, query: str, hit: Hit) -> float:
        """MaxSim of ``query`` and ``hit``'s passage (title and section path in front, as indexed)."""
        if self.late is None:
            raise ValueError("this scorer has no late-interaction part")
        passage = passage_text(hit.document.title, hit.chunk.section, hit.chunk.text)
        return self.late.score(query, [passage])[0]

    def evidence(self, query: str, hits: tuple[Hit, ...] | list[Hit]) -> float:
        """The mean of the dense and the top hit's late-interaction similarity (0 with no hits)."""
        if not hits:
            return 0.0
        dense = self.dense(query, hits)
        if self.late is None:
            return dense
        return (dense + self.late_interaction(query, hits[0])) / 2
