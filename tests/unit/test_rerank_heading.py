"""The query-heading reranker (the default, measured in docs/retrieval-quality.md): headings from passage
text, vectors from the store's cache (filled at ingest) before the encoder, kept in memory; and the
within-document scope that reorders a document's passages among its own places."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant.passages import passage_text
from assistant.rerank import HeadingReranker, make_reranker, passage_heading
from assistant.retrieval import Retriever
from assistant.types import Chunk


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


def test_heading_vectors_come_from_the_store_before_the_encoder() -> None:
    embedder = FakeEmbedder()
    stored = {"2. Cause": _vector("2. Cause")}
    asked: list[list[str]] = []

    def lookup(texts: Sequence[str]) -> dict[str, np.ndarray]:
        asked.append(list(texts))
        return {t: stored[t] for t in texts if t in stored}

    reranker = HeadingReranker(embedder, lookup)
    passages = [
        passage_text("Bulletin", "1. Overview", "The park brake does not release when cold."),
        passage_text("Bulletin", "2. Cause", "Grease stiffens below -20 C."),
    ]
    scores = reranker.score("Why does the park brake not release?", passages)
    assert scores[1] > scores[0]
    assert asked == [["1. Overview", "2. Cause"]]
    assert embedder.passage_calls == [["1. Overview"]]  # only the heading the store lacked
    assert reranker.encoded == 1
    reranker.score("Why again?", passages)
    assert asked == [["1. Overview", "2. Cause"]] and reranker.encoded == 1  # both kept in memory


def test_within_document_scope_keeps_documents_in_their_places() -> None:
    chunks = {
        row: Chunk(f"c{row}", doc, row, "text", None, None)
        for row, doc in ((1, "A"), (2, "B"), (3, "A"), (4, "B"), (5, "C"))
    }
    head = [(1, 0.9), (2, 0.8), (3, 0.7), (4, 0.6), (5, 0.5)]
    out = Retriever._within_documents(chunks, head, [0.0, 0.0, 1.0, 1.0, 1.0])
    # A's second passage takes A's first place, B's likewise; C stays; every place keeps its score.
    assert out == [(3, 0.9), (4, 0.8), (1, 0.7), (2, 0.6), (5, 0.5)]
    assert Retriever._within_documents(chunks, head, [1.0, 1.0, 0.0, 0.0, 0.0]) == head
