"""Derived indexes are rebuilt from the store when missing, corrupt or stale, never trusted blindly."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.app import Assistant
from assistant.types import Principal
from ingest.pipeline import Ingestor
from tests.factories import spec_pdf

pytestmark = pytest.mark.integration


def ingested(make_assistant: Callable[..., Assistant], tmp_path: Path) -> tuple[Assistant, Path]:
    assistant = make_assistant()
    root = tmp_path / "docs"
    spec_pdf(root / "brake.pdf", "brake", pages=3)
    (root / "notes.md").write_text("# Notes\n\nThe MIL-STD-882E hazard matrix applies.\n")
    assert Ingestor(assistant).run([root]).ok
    return assistant, root


def reopen(make_assistant: Callable[..., Assistant]) -> Assistant:
    return make_assistant()  # same home: a new process would see exactly this


def test_deleted_faiss_index_is_rebuilt(make_assistant: Callable[..., Assistant], tmp_path: Path) -> None:
    assistant, _ = ingested(make_assistant, tmp_path)
    record = assistant.store.derived("dense")
    assert record is not None
    shutil.rmtree(assistant.settings.index_dir / record.path)
    fresh = reopen(make_assistant)
    assert any("dense" in p for p in fresh.embedded_indexes().verify())
    hits = fresh.retriever.search("brake unit operating temperature", Principal.of("x"), k=3, mode="dense")
    assert hits and hits[0].document.source == "brake.pdf"
    assert fresh.embedded_indexes().rebuilds == 1
    assert fresh.embedded_indexes().verify() == []


def test_corrupted_faiss_file_is_detected_and_rebuilt(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    assistant, _ = ingested(make_assistant, tmp_path)
    record = assistant.store.derived("dense")
    assert record is not None
    file = assistant.settings.index_dir / record.path / "dense.faiss"
    data = bytearray(file.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64
    file.write_bytes(bytes(data))
    fresh = reopen(make_assistant)
    assert any("digest" in p for p in fresh.embedded_indexes().verify())
    hits = fresh.retriever.search("MIL-STD-882E", Principal.of("x"), k=1)
    assert hits[0].document.source == "notes.md"
    assert fresh.embedded_indexes().verify() == []


def test_stale_indexes_are_rebuilt_after_an_outside_change(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    assistant, _ = ingested(make_assistant, tmp_path)
    assistant.retriever.search("warm", Principal.of("x"))
    other = reopen(make_assistant)  # e.g. another process removes a document
    other.store.remove_document(other.store.document_by_source("notes.md").document.doc_id)  # type: ignore[union-attr]
    hits = assistant.retriever.search("MIL-STD-882E", Principal.of("x"), k=5, mode="lexical")
    assert all(h.document.source != "notes.md" for h in hits)
    assert assistant.embedded_indexes().verify() == []


def test_rebuild_reuses_cached_vectors(make_assistant: Callable[..., Assistant], tmp_path: Path) -> None:
    assistant, _ = ingested(make_assistant, tmp_path)
    before = assistant.store.counts()["embeddings"]
    snapshot = assistant.embedded_indexes().rebuild()
    assert len(snapshot.dense) == assistant.store.counts()["chunks"]
    assert assistant.store.counts()["embeddings"] == before
