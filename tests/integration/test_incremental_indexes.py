"""A change to the store updates the derived indexes by the changed documents only, and the result is the
index a rebuild from scratch would give: same rows, same hits, same scores, for every reader and mode."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from assistant.app import Assistant
from assistant.types import Principal
from ingest.pipeline import Ingestor
from tests.factories import spec_pdf

pytestmark = pytest.mark.integration

MODES = ("lexical", "dense", "hybrid")
QUERIES = (
    "brake housing operating temperature",
    "MIL-STD-882E hazard matrix",
    "battery pump torque Nm",
    "firmware signing key rotation",
)
READERS = (Principal.of("pat"), Principal.of("sam", ["public", "security"]), Principal.of("bo", ["security"]))


def _results(assistant: Assistant) -> dict[tuple[str, str, str], Any]:
    return {
        (reader.user_id, mode, query): [
            (h.chunk.chunk_id, h.rank, h.score, h.relevance)
            for h in assistant.retriever.search(query, reader, k=8, mode=mode)
        ]
        for reader in READERS
        for mode in MODES
        for query in QUERIES
    }


def _corpus(tmp_path: Path) -> tuple[Path, Path]:
    root, secret = tmp_path / "docs", tmp_path / "secret"
    spec_pdf(root / "brake.pdf", "brake", pages=3)
    spec_pdf(root / "battery.pdf", "battery", pages=2)
    (root / "notes.md").write_text("# Notes\n\nThe MIL-STD-882E hazard matrix applies.\n")
    secret.mkdir()
    (secret / "keys.md").write_text(
        "# Keys\n\nThe firmware signing key rotation is yearly; brake keys too.\n"
    )
    return root, secret


def _change_everything(assistant: Assistant, root: Path, secret: Path, tmp_path: Path) -> None:
    """Add, replace, re-label and remove documents, searching in between as a server would."""
    assistant.retriever.search("warm", Principal.of("x"))
    spec_pdf(tmp_path / "more" / "pump.pdf", "pump", pages=2)
    assert Ingestor(assistant).run([tmp_path / "more"]).ok  # a new document
    assert Ingestor(assistant).run([secret], acl=["security"]).ok  # a restricted one
    assistant.retriever.search("warm", Principal.of("x"))
    (root / "notes.md").write_text(
        "# Notes\n\nThe MIL-STD-882E hazard matrix and brake housing checks apply.\n"
    )
    assert Ingestor(assistant).run([root]).ok  # notes.md replaced
    assert Ingestor(assistant).run([root], meta={"brand": "kestrel"}).ok  # metadata only: passages re-indexed
    brake = assistant.store.document_by_source("brake.pdf")
    assert brake is not None
    assistant.store.remove_document(brake.document.doc_id)  # removed


def test_changes_update_the_indexes_exactly_like_a_rebuild(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    root, secret = _corpus(tmp_path)
    assistant = make_assistant()
    assert Ingestor(assistant).run([root]).ok
    assert assistant.indexes.rebuilds == 1
    _change_everything(assistant, root, secret, tmp_path)
    incremental = _results(assistant)
    assert assistant.indexes.rebuilds == 1  # every change after the first build was applied, none rebuilt
    assert assistant.indexes.updates >= 4
    assert assistant.indexes.verify() == []
    rebuilt = make_assistant()  # same home, a fresh catalog
    rebuilt.indexes.rebuild()
    assert _results(rebuilt) == incremental
    sources = {h.document.source for h in assistant.retriever.search("brake", READERS[1], k=20)}
    assert "brake.pdf" not in sources and "keys.md" in sources


def test_a_restart_reads_the_pending_delta_without_rebuilding(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    root, secret = _corpus(tmp_path)
    assistant = make_assistant()
    assert Ingestor(assistant).run([root]).ok
    _change_everything(assistant, root, secret, tmp_path)
    before = _results(assistant)
    record = assistant.store.derived("lexical")
    assert record is not None and (assistant.settings.index_dir / record.path / "base.json").exists()
    restarted = make_assistant()
    assert _results(restarted) == before
    assert restarted.indexes.rebuilds == 0
    assert restarted.indexes.verify() == []


def test_a_compacted_index_searches_like_its_delta(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    root, secret = _corpus(tmp_path)
    assistant = make_assistant()
    assert Ingestor(assistant).run([root]).ok
    _change_everything(assistant, root, secret, tmp_path)
    before = _results(assistant)
    assistant.indexes.compact_rows = 0
    assert Ingestor(assistant).run([tmp_path / "more"]).ok  # unchanged: nothing to do
    (tmp_path / "more" / "extra.md").write_text("# Extra\n\nCaliper bracket bolts.\n")
    assert Ingestor(assistant).run([tmp_path / "more"]).ok
    assert assistant.indexes.compactions == 2  # dense and lexical folded into new full versions
    record = assistant.store.derived("dense")
    assert record is not None and not (assistant.settings.index_dir / record.path / "base.json").exists()
    extra = assistant.store.document_by_source("extra.md")
    assert extra is not None
    assistant.store.remove_document(extra.document.doc_id)
    assert _results(assistant) == before
    assert assistant.indexes.rebuilds == 1
    assert make_assistant().indexes.verify() == []


@pytest.mark.parametrize("part", ["delta", "base"])
def test_a_lost_delta_or_base_means_a_rebuild(
    make_assistant: Callable[..., Assistant], tmp_path: Path, part: str
) -> None:
    root, secret = _corpus(tmp_path)
    assistant = make_assistant()
    assert Ingestor(assistant).run([root]).ok
    _change_everything(assistant, root, secret, tmp_path)
    before = _results(assistant)
    record = assistant.store.derived("dense")
    assert record is not None
    delta = assistant.settings.index_dir / record.path
    if part == "delta":
        data = bytearray((delta / "delta.npz").read_bytes())
        data[len(data) // 2] ^= 0xFF
        (delta / "delta.npz").write_bytes(bytes(data))
    else:
        shutil.rmtree(assistant.settings.index_dir / (delta / "base.json").read_text().split('"')[3])
    fresh = make_assistant()
    assert any(p.startswith("dense:") for p in fresh.indexes.verify())
    assert _results(fresh) == before
    assert fresh.indexes.rebuilds == 1
    assert fresh.indexes.verify() == []


def test_an_index_older_than_the_change_log_is_rebuilt(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    root, secret = _corpus(tmp_path)
    assistant = make_assistant()
    assert Ingestor(assistant).run([root]).ok
    stale = make_assistant()  # another process whose indexes stay at this generation
    stale.retriever.search("warm", Principal.of("x"))
    _change_everything(assistant, root, secret, tmp_path)
    with sqlite3.connect(assistant.settings.store_path) as db:  # as if the log had been pruned meanwhile
        db.execute(
            "UPDATE meta SET value = (SELECT value FROM meta WHERE key = 'generation')"
            " WHERE key = 'log_floor'"
        )
    assert _results(stale) == _results(assistant)
    assert stale.indexes.rebuilds == 1 and stale.indexes.updates == 0


def test_another_process_catches_up_on_the_logged_changes(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    root, secret = _corpus(tmp_path)
    assistant = make_assistant()
    assert Ingestor(assistant).run([root]).ok
    other = make_assistant()
    other.retriever.search("warm", Principal.of("x"))
    _change_everything(assistant, root, secret, tmp_path)
    assert _results(other) == _results(assistant)
    assert other.indexes.rebuilds == 0 and other.indexes.updates == 1
