"""The dense index's kind follows the store's size: a store that grows past ``ann_min_rows`` gets an
approximate (IVF) base at its next compaction, and a changed ANN setting rebuilds the dense index."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.app import Assistant
from assistant.index.ann import ANN_KIND
from assistant.index.dense import FLAT_KIND
from assistant.types import Principal
from ingest.pipeline import Ingestor
from tests.factories import spec_pdf

pytestmark = pytest.mark.integration

READER = Principal.of("pat")


def _hits(assistant: Assistant) -> list[tuple[str, float]]:
    hits = assistant.retriever.search("brake housing operating temperature", READER, k=8, mode="dense")
    return [(h.chunk.chunk_id, round(h.score, 5)) for h in hits]


def test_a_store_growing_past_the_threshold_gets_an_approximate_base(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    spec_pdf(tmp_path / "a" / "brake.pdf", "brake", pages=3)
    spec_pdf(tmp_path / "b" / "pump.pdf", "pump", pages=3)
    assert Ingestor(make_assistant()).run([tmp_path / "a"]).ok
    first = len(make_assistant().store.index_rows().rowids)
    assistant = make_assistant(ann_min_rows=first + 1)  # the same home: a new recipe, rebuilt
    assert assistant.embedded_indexes().current().dense.kind == FLAT_KIND  # below the threshold: exact
    assert Ingestor(assistant).run([tmp_path / "b"]).ok
    assistant.embedded_indexes().current()  # catches up, and the base is due for a kind change: compacted
    assistant.embedded_indexes().settle()
    snapshot = assistant.embedded_indexes().current()
    assert snapshot.dense.kind == ANN_KIND and assistant.embedded_indexes().compactions == 1
    assert assistant.embedded_indexes().rebuilds == 1  # the first build only
    assert assistant.embedded_indexes().verify() == []  # same rows, same vectors as the store
    assert _hits(assistant)  # and it searches


def test_changing_the_ann_setting_rebuilds_the_dense_index(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    spec_pdf(tmp_path / "docs" / "brake.pdf", "brake", pages=3)
    exact = make_assistant()
    assert Ingestor(exact).run([tmp_path / "docs"]).ok
    before = _hits(exact)
    record = exact.store.derived("dense")
    assert record is not None and "ivf>=100000" in record.model_id  # the kind's parameters are the recipe
    approximate = make_assistant(ann_min_rows=2)  # the same home, a different threshold
    assert approximate.embedded_indexes().current().dense.kind == ANN_KIND
    assert approximate.embedded_indexes().rebuilds == 1
    # One cluster for so few rows: the approximate index is exact here, so the hits are the same.
    assert _hits(approximate) == before
    assert approximate.embedded_indexes().verify() == []
