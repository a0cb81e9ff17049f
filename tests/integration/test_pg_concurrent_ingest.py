"""`eka ingest` from two processes at once on one PostgreSQL database (two hosts: different EKA_HOME folders).

The file lock under EKA_HOME covers one host only; on PostgreSQL an ingest also holds the database's ingest
lock (a session advisory lock, :meth:`assistant.pg.store.PgStore.ingest_lock`), so the two runs take turns:
what the first stored, the second finds unchanged (nothing parsed or embedded twice), and a file both runs
hold with different text ends up as the second run's version, once. Afterwards every document is present
once, `eka index verify` is clean and the store's own check finds nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from assistant.pg import db
from assistant.pg.store import PgStore
from tests.conftest import SAMPLES
from tests.server import eka, eka_env

pytestmark = pytest.mark.integration

# Sample folders each run ingests: brakes and chassis are in both (the same files, so the same sources).
FOLDERS = {"x": ("battery", "brakes", "chassis"), "y": ("brakes", "chassis", "quality")}
SHARED = "notes/shared.md"  # in both folders with different text


def tree(root: Path, name: str) -> Path:
    """A folder with some of the sample folders and a note of its own at ``SHARED``."""
    folder = root / name
    for sub in FOLDERS[name]:
        shutil.copytree(SAMPLES / sub, folder / sub)
    (folder / SHARED).parent.mkdir(parents=True)
    (folder / SHARED).write_text(f"# Shared note\n\nThis version of the note comes from folder {name}.\n")
    return folder


def outcomes(report: Path) -> dict[str, str]:
    data: dict[str, Any] = json.loads(report.read_text())
    return {f["source"]: f["status"] for f in data["files"]}


def test_two_ingests_at_once_on_one_database_store_every_document_once(tmp_path: Path, pg_url: str) -> None:
    folders = {name: tree(tmp_path / "files", name) for name in FOLDERS}
    runs = {}
    for name, folder in folders.items():  # started together; each loads its model, then ingests
        home = tmp_path / f"host-{name}"
        home.mkdir()
        command = [sys.executable, "-m", "eka", "ingest", str(folder), "--report", str(home / "report.json")]
        runs[name] = (
            home,
            subprocess.Popen(
                command,
                env=eka_env(home, database_url=pg_url),
                cwd=home,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            ),
        )
    for name, (_home, process) in runs.items():
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, f"{name}:\n{output[-3000:]}"
    reports = {name: outcomes(home / "report.json") for name, (home, _) in runs.items()}

    # Every document once: the union of both folders' sources.
    store = PgStore(db.shared(pg_url))
    sources = [s.document.source for s in store.documents()]
    assert len(sources) == len(set(sources))
    assert set(sources) == set(reports["x"]) | set(reports["y"])
    # The runs took turns: each file both hold unchanged was ingested by one and found unchanged by the other.
    overlap = (set(reports["x"]) & set(reports["y"])) - {SHARED}
    assert overlap
    second = "y" if reports["y"][min(overlap)] == "unchanged" else "x"
    first = "x" if second == "y" else "y"
    for source in overlap:
        assert (reports[first][source], reports[second][source]) == ("ingested", "unchanged"), source
    # The note both hold with different text: the second run's version replaced the first's, once.
    assert reports[first][SHARED] == reports[second][SHARED] == "ingested"
    note = store.document_by_source(SHARED)
    assert note is not None
    text = " ".join(c.text for c in store.chunks_of(note.document.doc_id))
    assert f"comes from folder {second}" in text and f"folder {first}" not in text

    assert store.check() == []
    for home, _ in runs.values():
        verified = eka(home, "index", "verify", database_url=pg_url)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert f"{len(sources)} documents" in verified.stdout
    db.forget(pg_url)
