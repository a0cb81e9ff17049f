"""Second-stage retrieval on real components: reranking, page diversity, pseudo-relevance feedback."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from assistant import relevance
from assistant.app import Assistant
from assistant.embedding import SentenceTransformerEmbedder
from assistant.passages import text_hash
from assistant.rerank import LateInteractionReranker, make_reranker, passage_heading, store_heading_vectors
from assistant.types import Principal
from ingest.pipeline import Ingestor
from tests.conftest import SAMPLE_GROUPS, SAMPLES

pytestmark = pytest.mark.integration


def test_late_interaction_prefers_the_passage_that_answers(embedder: SentenceTransformerEmbedder) -> None:
    reranker = LateInteractionReranker(embedder)
    scores = reranker.score(
        "minimum brake pad lining thickness before replacement",
        ["Replace the pads when the lining is thinner than 2 mm.", "The coolant pump runs at 3000 rpm."],
    )
    assert scores[0] > scores[1]
    assert make_reranker("none", embedder) is None
    with pytest.raises(ValueError, match="unknown reranker"):
        make_reranker("magic", embedder)


def test_default_search_lists_distinct_pages_first(ingested_samples: Assistant) -> None:
    hits = ingested_samples.retriever.search("brake pad wear sensor", Principal.of("a", SAMPLE_GROUPS), k=8)
    keys = [(h.chunk.doc_id, h.chunk.page or h.chunk.section) for h in hits]
    assert len(set(keys)) == len(keys)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].retriever == "reranked"  # the heading reranker (docs/retrieval-quality.md, issue 12)


def test_late_interaction_rerank_is_still_an_option(make_assistant: Callable[..., Assistant]) -> None:
    assistant = make_assistant("rerank", reranker="late-interaction")
    Ingestor(assistant).run([SAMPLES / "chassis"])
    hits = assistant.retriever.search("brake pad wear sensor", Principal.of("a", SAMPLE_GROUPS), k=5)
    assert hits and all(h.retriever == "reranked" for h in hits)
    assert assistant.retriever.model_ids() == [f"late-interaction:{assistant.embedder.model_id}"]


def test_default_search_runs_the_encoder_once_per_query(
    make_assistant: Callable[..., Assistant], monkeypatch: pytest.MonkeyPatch
) -> None:
    assistant = make_assistant("once")
    Ingestor(assistant).run([SAMPLES / "chassis"])
    model = assistant.embedder.model()  # type: ignore[attr-defined]
    calls: list[int] = []
    encode = model.encode

    def counted(texts: list[str], **kwargs: object) -> object:
        calls.append(len(texts))
        return encode(texts, **kwargs)

    monkeypatch.setattr(model, "encode", counted)
    reader = Principal.of("a", SAMPLE_GROUPS)
    for mode in ("hybrid", "lexical", "dense", "hybrid"):
        assert assistant.retriever.search("caliper carrier bolt torque", reader, k=5, mode=mode)  # type: ignore[arg-type]
    assert calls == [1]  # the first search encodes the query; relevance and later searches reuse its vector
    # The heading reranker found every heading's vector in the store (ingest put them there).
    assert assistant.retriever.reranker.encoded == 0  # type: ignore[union-attr]


def test_every_second_stage_keeps_access_control(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "open.md").write_text("# Pads\n\nBrake pads must be replaced below 2 mm of lining.\n")
    (root / "secret.md").write_text("# Pads (restricted)\n\nBrake pad supplier price is 4.10 EUR per pad.\n")
    (root / "secret.md.meta.yaml").write_text("acl: [purchasing]\n")
    for overrides in (
        {"reranker": "late-interaction"},
        {"rerank_scope": "results"},
        {"prf_docs": 2, "prf_terms": 5},
        {"max_per_page": 1},
    ):
        assistant = make_assistant(f"home-{len(overrides)}-{next(iter(overrides))}", **overrides)
        Ingestor(assistant).run([root])
        for mode in ("hybrid", "dense", "lexical"):
            hits = assistant.retriever.search("brake pad price", Principal.of("x"), k=10, mode=mode)  # type: ignore[arg-type]
            assert hits and {h.document.source for h in hits} == {"open.md"}, (overrides, mode)


def test_relevance_is_absolute_high_for_the_answer_and_low_off_topic(ingested_samples: Assistant) -> None:
    reader = Principal.of("ann", [*SAMPLE_GROUPS, "public"])
    on_topic = ingested_samples.retriever.search(
        "What torque is specified for the front caliper carrier bolts of the Kestrel KV-4?", reader, k=3
    )
    off_topic = ingested_samples.retriever.search("How do I bake sourdough bread at home?", reader, k=3)
    assert on_topic[0].document.source == "chassis/kestrel-kv4-torque-specifications.pdf"
    assert relevance.label(on_topic[0].relevance) == "high"
    # The ranking score of the best off-topic hit is at least one retriever's best (normalised per query, so
    # 0.5 at least in 0.5/0.5 fusion); its relevance is not.
    assert off_topic[0].score >= 0.5
    assert relevance.label(off_topic[0].relevance) == "low"
    for hits in (on_topic, off_topic):
        assert all(h.relevance is not None and -1.0 <= h.relevance <= 1.0 for h in hits)


def test_relevance_is_given_in_every_mode(ingested_samples: Assistant) -> None:
    reader = Principal.of("ann", [*SAMPLE_GROUPS, "public"])
    for mode in ("hybrid", "dense", "lexical"):
        hits = ingested_samples.retriever.search("pad wear sensor warning threshold", reader, k=3, mode=mode)
        assert hits and all(h.relevance is not None for h in hits), mode


def test_index_rebuild_for_a_new_model_stores_its_heading_vectors(
    make_assistant: Callable[..., Assistant],
) -> None:
    """A model whose cache has no heading vectors (as after `eka index rebuild` for a new model) gets one per
    distinct heading, once."""
    assistant = make_assistant("headings")
    Ingestor(assistant).run([SAMPLES / "chassis"])
    real = assistant.embedder
    asked: list[str] = []

    class NewModel:
        model_id = "another-model"
        dim = real.dim

        def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
            asked.extend(texts)
            return real.embed_passages(texts)

        def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
            return real.embed_queries(texts)

    passages = assistant.store.index_rows().passages
    headings = {passage_heading(p) for p in passages} - {""}
    assert len(headings) > 5
    assert store_heading_vectors(assistant.store, NewModel(), passages) == len(headings)
    assert sorted(asked) == sorted(headings)
    assert set(assistant.store.cached_vectors("another-model", [text_hash(h) for h in headings])) == {
        text_hash(h) for h in headings
    }
    assert store_heading_vectors(assistant.store, NewModel(), passages) == 0  # all cached now
    assert store_heading_vectors(assistant.store, real, passages) == 0  # ingest made the model's own
