"""A SIGKILL in the middle of an ingest loses nothing: the store opens, verifies, and a re-run converges."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from assistant.app import Assistant
from ingest.pipeline import Ingestor
from tests.factories import spec_pdf

pytestmark = pytest.mark.e2e

TOPICS = [
    "brake",
    "coolant",
    "inverter",
    "charger",
    "steering",
    "airbag",
    "lidar",
    "gearbox",
    "damper",
    "wiper",
    "headlamp",
    "seatbelt",
    "mirror",
    "horn",
    "radar",
    "battery",
    "clutch",
    "turbo",
    "exhaust",
    "fuel",
    "sunroof",
    "door",
    "window",
    "tyre",
]


def build_corpus(root: Path) -> int:
    for i, topic in enumerate(TOPICS):
        if i % 4 == 0:
            spec_pdf(root / f"{topic}.pdf", topic, pages=2)
        else:
            body = "\n\n".join(
                f"The {topic} assembly step {n} requires torque {n * 7} Nm and check {topic.upper()}-{n:03d}."
                for n in range(1, 40)
            )
            (root / f"{topic}.md").write_text(f"# {topic.title()} manual\n\n## Assembly\n\n{body}\n")
    return len(TOPICS)


def documents_in(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM documents").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def snapshot(assistant: Assistant) -> dict[str, tuple[list[str], np.ndarray]]:
    out = {}
    for stored in assistant.store.documents():
        chunks = assistant.store.chunks_of(stored.document.doc_id)
        rows = assistant.store.index_rows()
        by_chunk = dict(zip(rows.rowids.tolist(), rows.embed_hashes, strict=True))
        ids = [c.chunk_id for c in chunks]
        rowid_of = {c.chunk_id: r for r, c in assistant.store.chunks_by_rowid(list(by_chunk)).items()}
        hashes = [by_chunk[rowid_of[i]] for i in ids]
        vectors = assistant.store.cached_vectors(assistant.embedder.model_id, hashes)
        out[stored.document.source] = (ids, np.vstack([vectors[h] for h in hashes]))
    return out


def test_sigkill_mid_ingest_then_rerun_equals_a_clean_ingest(
    tmp_path: Path, make_assistant: Callable[..., Assistant]
) -> None:
    root = tmp_path / "corpus"
    root.mkdir()
    total = build_corpus(root)
    home = tmp_path / "crashed"
    # Small embedding batches so documents are committed one after another while the kill lands.
    env = {**os.environ, "EKA_HOME": str(home), "EKA_INGEST_BATCH_CHUNKS": "8"}
    process = subprocess.Popen(
        [sys.executable, "-m", "eka", "ingest", str(root)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    while documents_in(home / "eka.sqlite3") < 3 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    written = documents_in(home / "eka.sqlite3")
    assert 3 <= written < total, f"the kill must land mid-run ({written} of {total} documents written)"

    crashed = make_assistant("crashed")
    assert crashed.store.check() == []
    crashed.embedded_indexes().current()  # stale or missing derived indexes are rebuilt, not trusted
    assert crashed.embedded_indexes().verify() == []
    assert Ingestor(crashed).run([root]).ok
    assert crashed.embedded_indexes().verify() == []

    clean = make_assistant("clean")
    assert Ingestor(clean).run([root]).ok
    after_crash, reference = snapshot(crashed), snapshot(clean)
    assert after_crash.keys() == reference.keys() and len(reference) == total
    for source, (ids, vectors) in reference.items():
        assert after_crash[source][0] == ids, source
        np.testing.assert_allclose(after_crash[source][1], vectors, atol=1e-5)
