"""The query-heading reranker (opt-in, measured in docs/retrieval-quality.md): headings from passage text,
one encoder call per new heading, cached."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant.passages import passage_text
from assistant.rerank import HeadingReranker, make_reranker, passage_heading


def _vector(text: str) -> np.ndarray:
    """A toy unit vector: one dimension per known word (``why`` and ``cause`` share one)."""
    out = np.zeros(3, dtype=np.float32)
    lowered = text.lower()
    out[0] = float("cause" in lowered or "why" in lowered)
    out[1] = float("update" in lowered)
    out[2] = float("overview" in lowered) + 0.1
    return out / np.linalg.norm(out)


class FakeEmbedder:
    model_id = "fake"
    dim = 3

    def __init__(self) -> None:
        self.passage_calls: list[list[str]] = []

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.passage_calls.append(list(texts))
        return np.vstack([_vector(t) for t in texts])

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.vstack([_vector(t) for t in texts])


def test_passage_heading_is_the_innermost_section() -> None:
    assert passage_heading(passage_text("Bulletin", "4. Repair > 4.2 Software update", "Flash v2.")) == (
        "4.2 Software update"
    )
    assert passage_heading(passage_text("Bulletin", "3. Cause", "Grease stiffens.")) == "3. Cause"
    assert passage_heading(passage_text("Bulletin", None, "No section here.")) == ""  # not the title
    assert passage_heading("one line only") == ""


def test_heading_reranker_scores_by_heading_and_caches_vectors() -> None:
    embedder = FakeEmbedder()
    reranker = HeadingReranker(embedder)
    passages = [
        passage_text("Bulletin", "1. Overview", "The park brake does not release when cold."),
        passage_text("Bulletin", "2. Cause", "Grease stiffens below -20 C."),
        passage_text("Bulletin", None, "Cause and overview in the text only."),
    ]
    scores = reranker.score("Why does the park brake not release?", passages)
    assert scores[1] > scores[0]  # the question's intent matches the heading, not the words of the text
    assert scores[2] == 0.0  # no section heading
    assert embedder.passage_calls == [["1. Overview", "2. Cause"]]
    reranker.score("Why again?", passages[:2])
    assert embedder.passage_calls == [["1. Overview", "2. Cause"]]  # cached: no second encoder call
    assert reranker.score("anything", []) == []


def test_heading_is_a_named_reranker() -> None:
    reranker = make_reranker("heading", FakeEmbedder())  # type: ignore[arg-type]
    assert isinstance(reranker, HeadingReranker)
    assert reranker.model_id == "heading-similarity:fake"
