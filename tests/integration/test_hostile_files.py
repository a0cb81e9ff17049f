"""Hostile and malformed files: each fails alone, with its reason; the rest of the run is ingested."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from assistant.app import Assistant
from assistant.embedding import model_spec
from ingest import worker
from ingest.pipeline import Ingestor
from tests.factories import (
    billion_laughs_docx,
    cut_off_docx,
    huge_text_node_docx,
    make_docx,
    zip_bomb_docx,
)

pytestmark = pytest.mark.integration

GOOD_NOTE = "# Notes\n\n## Torque\n\nWheel nuts are torqued to 140 Nm in a star pattern.\n"


def test_hostile_docx_files_fail_one_by_one_and_the_good_files_are_ingested(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    assistant = make_assistant()
    root = tmp_path / "docs"
    root.mkdir()
    make_docx(root / "inverter.docx")
    (root / "notes.md").write_text(GOOD_NOTE)
    cut_off_docx(root / "cut-off.docx")
    billion_laughs_docx(root / "laughs.docx")
    huge_text_node_docx(root / "huge-node.docx")
    zip_bomb_docx(root / "bomb.docx")  # 0.6 MB on disk, 200 MB inflated
    report = Ingestor(assistant).run([root])
    reasons = {f.source: f.reason or "" for f in report.files if f.status == "failed"}
    assert reasons.keys() == {"cut-off.docx", "laughs.docx", "huge-node.docx", "bomb.docx"}
    assert reasons["cut-off.docx"].startswith("corrupt DOCX (XML:")
    assert "amplification" in reasons["laughs.docx"]
    assert "Text node too long" in reasons["huge-node.docx"]
    assert "over the 100 MB limit (EKA_MAX_UNZIPPED_MB)" in reasons["bomb.docx"]
    assert {s.document.source for s in assistant.store.documents()} == {"inverter.docx", "notes.md"}
    assert report.to_json()["counts"]["failed"] == 4


def test_a_parse_over_the_memory_limit_is_that_files_failure(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    # The size check is lifted so the parser really tries; the worker's address-space limit stops it.
    assistant = make_assistant(max_unzipped_mb=10_000, parse_memory_mb=700)
    root = tmp_path / "docs"
    root.mkdir()
    zip_bomb_docx(root / "bomb.docx", megabytes=120)
    (root / "notes.md").write_text(GOOD_NOTE)
    report = Ingestor(assistant).run([root])
    outcomes = {f.source: f for f in report.files}
    assert outcomes["bomb.docx"].status == "failed" and outcomes["bomb.docx"].reason
    assert outcomes["notes.md"].status == "ingested"


def test_a_file_name_too_long_for_a_sidecar_is_ingested(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    assistant = make_assistant()
    root = tmp_path / "docs"
    root.mkdir()
    name = "n" * 247 + ".md"  # 250 bytes: NAME.meta.yaml would be 260, past the file system's limit
    (root / name).write_text(GOOD_NOTE)
    report = Ingestor(assistant).run([root])
    assert [(f.source, f.status) for f in report.files] == [(name, "ingested")]


def test_any_parser_exception_leaves_the_worker_as_a_picklable_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    try:
        etree.fromstring(b"<a><b></a>")
    except etree.XMLSyntaxError as err:
        raised = err
    with pytest.raises(TypeError, match="pickle"):
        pickle.dumps(raised)  # what used to cross the process boundary and kill `eka ingest`

    def failing_load(_path: Path, _max_unzipped: int) -> None:
        raise raised

    monkeypatch.setattr(worker, "load", failing_load)
    job = worker.ParseJob(tmp_path / "x.docx", model_spec("all-MiniLM-L6-v2").tokenizer_file(), 128, 32, 60.0)
    result = pickle.loads(pickle.dumps(worker.parse_file(job)))
    assert result.error is not None and result.error.startswith("unreadable (XMLSyntaxError:")
