"""Incremental, crash-safe ingest with the real model, FAISS, BM25 and pypdf."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.app import Assistant
from assistant.types import Principal
from ingest.pipeline import Ingestor
from tests.conftest import SAMPLE_GROUPS
from tests.factories import corrupt_pdf, encrypted_pdf, make_docx, spec_pdf, truncated_pdf

pytestmark = pytest.mark.integration

EVERYONE = Principal.of("admin", SAMPLE_GROUPS)


def corpus(root: Path) -> Path:
    spec_pdf(root / "specs" / "brake.pdf", "brake", pages=3)
    spec_pdf(root / "specs" / "coolant.pdf", "coolant", pages=2)
    make_docx(root / "inverter.docx")
    (root / "notes.md").write_text(
        "# Notes\n\n## Torque\n\nWheel nuts are torqued to 140 Nm in a star pattern.\n"
    )
    return root


def test_sample_corpus_ingests_cleanly(ingested_samples: Assistant) -> None:
    counts = ingested_samples.store.counts()
    assert counts["documents"] == 13
    assert counts["chunks"] > 100
    assert ingested_samples.embedded_indexes().verify() == []


def test_pdf_chunks_carry_pages_and_sections(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    assistant = make_assistant()
    Ingestor(assistant).run([corpus(tmp_path / "docs")])
    stored = assistant.store.document_by_source("specs/brake.pdf")
    assert stored is not None and stored.document.pages == 3
    chunks = assistant.store.chunks_of(stored.document.doc_id)
    assert {c.page for c in chunks} == {1, 2, 3}
    page2 = [c for c in chunks if c.page == 2]
    assert all((c.section or "").startswith("3 Brake sensor") for c in page2)
    assert any("3.1 Requirements for the brake sensor" in (c.section or "") for c in page2)
    assert all("BRAKE-REQ-001" not in c.text and "BRAKE-REQ-003" not in c.text for c in page2)
    # Running headers and footers are dropped; the headings that only look alike are kept.
    assert not any("Nordhavn Motor Group - page" in c.text or "Rev A" in c.text for c in chunks)
    assert any("1 Scope" in c.text for c in chunks) and any("2 Brake actuator" in c.text for c in chunks)
    assert any("Torque of the sensor | 140 | Nm" in c.text for c in page2)


def test_reingest_of_unchanged_corpus_parses_and_embeds_nothing(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    assistant = make_assistant()
    root = corpus(tmp_path / "docs")
    first = Ingestor(assistant).run([root])
    assert first.counts()["ingested"] == 4 and first.counts()["embedded"] > 0
    generation = assistant.store.generation()
    second = Ingestor(assistant).run([root])
    assert second.counts()["unchanged"] == 4
    assert second.counts()["embedded"] == 0 and second.parse_s == 0
    assert assistant.store.generation() == generation


def test_identical_text_is_never_embedded_twice(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    assistant = make_assistant()
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.md").write_text("# Same\n\nCoolant pump runs at 3000 rpm.\n")
    Ingestor(assistant).run([root])
    (root / "a.md").write_text("# Same\n\nCoolant pump runs at 3000 rpm.\n\n")  # new bytes, same chunk text
    report = Ingestor(assistant).run([root])
    assert report.counts()["ingested"] == 1 and report.counts()["embedded"] == 0


def test_changed_file_replaces_its_chunks(make_assistant: Callable[..., Assistant], tmp_path: Path) -> None:
    assistant = make_assistant()
    root = corpus(tmp_path / "docs")
    Ingestor(assistant).run([root])
    doc_id = assistant.store.document_by_source("notes.md").document.doc_id  # type: ignore[union-attr]
    old_ids = {c.chunk_id for c in assistant.store.chunks_of(doc_id)}
    (root / "notes.md").write_text("# Notes\n\n## Torque\n\nWheel nuts on the KV-4 are torqued to 460 Nm.\n")
    report = Ingestor(assistant).run([root])
    assert report.counts()["ingested"] == 1 and report.counts()["unchanged"] == 3
    new_chunks = assistant.store.chunks_of(doc_id)
    assert old_ids.isdisjoint({c.chunk_id for c in new_chunks})
    assert any("460 Nm" in c.text for c in new_chunks)
    hits = assistant.retriever.search("KV-4 wheel nut torque 460", EVERYONE, k=3)
    assert hits[0].chunk.text.count("460 Nm") == 1
    assert not any(
        "140 Nm" in h.chunk.text for h in assistant.retriever.search("140 Nm", EVERYONE, k=10, mode="lexical")
    )
    assert assistant.embedded_indexes().verify() == []


def test_prune_removes_documents_whose_files_are_gone(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    assistant = make_assistant()
    root = corpus(tmp_path / "docs")
    Ingestor(assistant).run([root])
    (root / "specs" / "coolant.pdf").unlink()
    kept = Ingestor(assistant).run([root])
    assert assistant.store.document_by_source("specs/coolant.pdf") is not None  # no --prune: kept
    assert kept.counts()["removed"] == 0
    pruned = Ingestor(assistant).run([root], prune=True)
    assert pruned.counts()["removed"] == 1
    assert assistant.store.document_by_source("specs/coolant.pdf") is None
    for mode in ("hybrid", "lexical"):
        hits = assistant.retriever.search("coolant unit", EVERYONE, k=20, mode=mode)  # type: ignore[arg-type]
        assert all(h.document.source != "specs/coolant.pdf" for h in hits)
    assert assistant.embedded_indexes().verify() == []


def test_metadata_change_updates_access_without_reembedding(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    assistant = make_assistant()
    root = corpus(tmp_path / "docs")
    Ingestor(assistant).run([root])
    outsider = Principal.of("pat", ["public"])
    assert any(
        h.document.source == "notes.md" for h in assistant.retriever.search("wheel nuts torque", outsider)
    )
    (root / "notes.md.meta.yaml").write_text("acl: [chassis]\nbrand: Kestrel\n")
    report = Ingestor(assistant).run([root])
    assert report.counts()["metadata"] == 1 and report.counts()["embedded"] == 0
    assert all(
        h.document.source != "notes.md" for h in assistant.retriever.search("wheel nuts torque", outsider)
    )
    insider = Principal.of("kim", ["chassis"])
    hits = assistant.retriever.search("wheel nuts torque", insider, filters={"brand": ("kestrel",)})
    assert hits and {h.document.source for h in hits} == {"notes.md"}


def test_each_bad_file_gets_its_reason_and_the_rest_is_ingested(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    assistant = make_assistant(max_file_mb=0.05)
    root = corpus(tmp_path / "docs")
    bad = root / "bad"
    bad.mkdir()
    encrypted_pdf(bad / "encrypted.pdf")
    truncated_pdf(bad / "truncated.pdf")
    corrupt_pdf(bad / "corrupt.pdf")
    (bad / "empty.md").write_bytes(b"")
    (bad / "binary.txt").write_bytes(os.urandom(2048))
    (bad / "drawing.dwg").write_bytes(b"AC1032")
    (bad / "huge.txt").write_text("torque " * 20000)
    (bad / "broken.md.meta.yaml").write_text("title: [unclosed\n")
    (bad / "broken.md").write_text("# Fine text\n\nBut its sidecar is broken.\n")
    report = Ingestor(assistant).run([root])
    reasons = {f.source: f.reason for f in report.files if f.status == "failed"}
    assert reasons.keys() == {
        "bad/encrypted.pdf",
        "bad/truncated.pdf",
        "bad/corrupt.pdf",
        "bad/empty.md",
        "bad/binary.txt",
        "bad/drawing.dwg",
        "bad/huge.txt",
        "bad/broken.md",
    }
    assert "encrypted" in reasons["bad/encrypted.pdf"]
    assert "truncated" in reasons["bad/truncated.pdf"]
    assert "corrupt" in reasons["bad/corrupt.pdf"]
    assert reasons["bad/empty.md"] == "empty file"
    assert "binary" in reasons["bad/binary.txt"]
    assert "unsupported file type .dwg" in reasons["bad/drawing.dwg"]
    assert "MB limit" in reasons["bad/huge.txt"]
    assert "sidecar" in reasons["bad/broken.md"]
    assert not report.ok
    assert report.counts()["ingested"] == 4
    assert {s.document.source for s in assistant.store.documents()} == {
        "specs/brake.pdf",
        "specs/coolant.pdf",
        "inverter.docx",
        "notes.md",
    }
    assert assistant.embedded_indexes().verify() == []


def test_a_file_that_parses_too_long_is_stopped(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    assistant = make_assistant(parse_timeout_s=0.001)
    root = tmp_path / "docs"
    spec_pdf(root / "long.pdf", "brake", pages=40)
    report = Ingestor(assistant).run([root])
    (outcome,) = report.files
    assert outcome.status == "failed" and "longer than" in (outcome.reason or "")
    assert assistant.store.counts()["documents"] == 0


def test_a_failed_update_keeps_the_previous_version(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    assistant = make_assistant()
    root = corpus(tmp_path / "docs")
    Ingestor(assistant).run([root])
    before = assistant.store.document_by_source("specs/brake.pdf")
    truncated_pdf(root / "specs" / "brake.pdf")
    report = Ingestor(assistant).run([root])
    assert [f.status for f in report.files if f.source == "specs/brake.pdf"] == ["failed"]
    after = assistant.store.document_by_source("specs/brake.pdf")
    assert after == before
    assert (
        assistant.retriever.search("BRAKE-REQ-002", EVERYONE, k=1, mode="lexical")[0].document.source
        == "specs/brake.pdf"
    )


def test_missing_path_is_reported(make_assistant: Callable[..., Assistant], tmp_path: Path) -> None:
    report = Ingestor(make_assistant()).run([tmp_path / "nope"])
    assert report.files[0].status == "failed" and "no such file" in (report.files[0].reason or "")


def test_copy_of_samples_is_found_by_identifier(
    make_assistant: Callable[..., Assistant], samples_copy: Path
) -> None:
    assistant = make_assistant()
    shutil.rmtree(samples_copy / "security")
    Ingestor(assistant).run([samples_copy])
    for mode in ("lexical", "hybrid"):
        hits = assistant.retriever.search("C1A27-11", EVERYONE, k=3, mode=mode)  # type: ignore[arg-type]
        assert "C1A27-11" in hits[0].chunk.text
