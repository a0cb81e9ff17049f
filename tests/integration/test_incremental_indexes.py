"""A change to the store updates the derived indexes by the changed documents only, and the result is the
index a rebuild from scratch would give: same rows, same hits, same scores, for every reader and mode."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.app import Assistant, build_assistant
from assistant.config import Settings
from assistant.embedding import SentenceTransformerEmbedder
from assistant.types import Principal
from ingest.pipeline import Ingestor
from tests.factories import spec_pdf

pytestmark = pytest.mark.integration

MODES = ("lexical", "dense", "hybrid")
QUERIES = (
    "brake housing operating temperature",
    "MIL-STD-882E hazard matrix",
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


@pytest.fixture(scope="module")
def changed(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Iterator[dict[str, Any]]:
    """One store changed every way after its first build, a copy of its home, and what three processes saw:
    the one that made the changes, one that caught up afterwards, one whose log no longer reached back."""
    base = tmp_path_factory.mktemp("incremental")
    root, secret = _corpus(base)
    home = base / "home"
    opened = [build_assistant(Settings(home=home, _env_file=None), embedder=embedder) for _ in range(3)]  # type: ignore[call-arg]
    assistant, other, stale = opened
    try:
        assert Ingestor(assistant).run([root]).ok
        other.retriever.search("warm", Principal.of("x"))
        stale.retriever.search("warm", Principal.of("x"))
        _change_everything(assistant, root, secret, base)
        state: dict[str, Any] = {
            "results": _results(assistant),
            "counts": (assistant.embedded_indexes().rebuilds, assistant.embedded_indexes().updates),
            "verify": assistant.embedded_indexes().verify(),
            "other": (_results(other), other.embedded_indexes().rebuilds, other.embedded_indexes().updates),
            "template": base / "template",
        }
        shutil.copytree(home, state["template"])  # nothing writes now: the database and its WAL agree
        with sqlite3.connect(assistant.settings.store_path) as db:  # as if the log had been pruned meanwhile
            db.execute(
                "UPDATE meta SET value = (SELECT value FROM meta WHERE key = 'generation')"
                " WHERE key = 'log_floor'"
            )
        state["stale"] = (
            _results(stale),
            stale.embedded_indexes().rebuilds,
            stale.embedded_indexes().updates,
        )
        yield state
    finally:
        for one in opened:
            one.close()


def _reopen(changed: dict[str, Any], make_assistant: Callable[..., Assistant], tmp_path: Path) -> Assistant:
    """A process starting on a copy of the changed store (its indexes: a full base and a pending delta)."""
    shutil.copytree(changed["template"], tmp_path / "home")
    return make_assistant()


def test_changes_are_applied_without_a_rebuild(changed: dict[str, Any]) -> None:
    rebuilds, updates = changed["counts"]
    assert rebuilds == 1  # the first build; every change after it was applied
    assert updates >= 4
    assert changed["verify"] == []


def test_an_updated_index_searches_exactly_like_a_rebuild(
    changed: dict[str, Any], make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    rebuilt = _reopen(changed, make_assistant, tmp_path)
    rebuilt.embedded_indexes().rebuild()
    assert _results(rebuilt) == changed["results"]
    sources = {h.document.source for h in rebuilt.retriever.search("brake", READERS[1], k=20)}
    assert "brake.pdf" not in sources and "keys.md" in sources


def test_a_restart_reads_the_pending_delta_without_rebuilding(
    changed: dict[str, Any], make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    restarted = _reopen(changed, make_assistant, tmp_path)
    record = restarted.store.derived("lexical")
    assert record is not None and (restarted.settings.index_dir / record.path / "base.json").exists()
    assert _results(restarted) == changed["results"]
    assert restarted.embedded_indexes().rebuilds == 0
    assert restarted.embedded_indexes().verify() == []


def test_a_compacted_index_searches_like_its_delta(
    changed: dict[str, Any], make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    assistant = _reopen(changed, make_assistant, tmp_path)
    indexes = assistant.embedded_indexes()
    indexes.compact_rows, indexes.compact_fraction = 0, 0.0
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "extra.md").write_text("# Extra\n\nCaliper bracket bolts.\n")
    assert Ingestor(assistant).run([tmp_path / "more"]).ok
    assistant.embedded_indexes().settle()  # compaction runs on a background thread
    assert assistant.embedded_indexes().compactions == 2  # dense and lexical folded into new full versions
    record = assistant.store.derived("dense")
    assert record is not None and not (assistant.settings.index_dir / record.path / "base.json").exists()
    extra = assistant.store.document_by_source("extra.md")
    assert extra is not None
    assistant.store.remove_document(extra.document.doc_id)
    assert _results(assistant) == changed["results"]
    assistant.embedded_indexes().settle()
    assert _results(assistant) == changed["results"]  # compacted again after the removal
    assert assistant.embedded_indexes().rebuilds == 0
    assert make_assistant().embedded_indexes().verify() == []


@pytest.mark.parametrize("part", ["delta", "base"])
def test_a_lost_delta_or_base_means_a_rebuild(
    changed: dict[str, Any], make_assistant: Callable[..., Assistant], tmp_path: Path, part: str
) -> None:
    shutil.copytree(changed["template"], tmp_path / "home")
    index_dir = tmp_path / "home" / "index"
    [delta] = [d for d in index_dir.iterdir() if d.name.startswith("dense-") and (d / "base.json").exists()]
    if part == "delta":
        data = bytearray((delta / "delta.npz").read_bytes())
        data[len(data) // 2] ^= 0xFF
        (delta / "delta.npz").write_bytes(bytes(data))
    else:
        shutil.rmtree(index_dir / json.loads((delta / "base.json").read_text())["path"])
    fresh = make_assistant()
    assert any(p.startswith("dense:") for p in fresh.embedded_indexes().verify())
    assert _results(fresh) == changed["results"]
    assert fresh.embedded_indexes().rebuilds == 1
    assert fresh.embedded_indexes().verify() == []


def test_another_process_catches_up_on_the_logged_changes(changed: dict[str, Any]) -> None:
    results, rebuilds, updates = changed["other"]
    assert results == changed["results"]
    assert (rebuilds, updates) == (0, 1)


def test_an_index_older_than_the_change_log_is_rebuilt(changed: dict[str, Any]) -> None:
    results, rebuilds, updates = changed["stale"]
    assert results == changed["results"]
    assert (rebuilds, updates) == (1, 0)


def test_a_compaction_overtaken_by_an_update_applies_the_update_again(
    changed: dict[str, Any], make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    assistant = _reopen(changed, make_assistant, tmp_path)
    started_on = assistant.embedded_indexes().current()  # base + delta, below the compaction size
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "extra.md").write_text("# Extra\n\nCaliper bracket bolts.\n")
    assert Ingestor(assistant).run([tmp_path / "more"]).ok  # an update lands while the compaction runs
    indexes = assistant.embedded_indexes()
    indexes.compact_rows, indexes.compact_fraction = 0, 0.0
    indexes._compact(started_on)  # ... and the compaction of the older snapshot finishes now
    assert assistant.embedded_indexes().compactions == 2
    hits = assistant.retriever.search("caliper bracket bolts", READERS[0], k=1, mode="lexical")
    assert hits[0].document.source == "extra.md"
    extra = assistant.store.document_by_source("extra.md")
    assert extra is not None
    assistant.store.remove_document(extra.document.doc_id)
    assert _results(assistant) == changed["results"]
    assistant.embedded_indexes().settle()
    assert assistant.embedded_indexes().rebuilds == 0
    assert assistant.embedded_indexes().verify() == []
