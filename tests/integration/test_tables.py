"""PDF tables end to end: the KV-4 torque table is chunked as whole rows and quoted as one readable row."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.app import Assistant
from assistant.generation.base import Prompt
from assistant.generation.extractive import ExtractiveGenerator
from assistant.tables import parse_row
from assistant.types import Principal
from ingest.pipeline import Ingestor
from tests.conftest import SAMPLES

pytestmark = pytest.mark.integration

KV4 = "chassis/kestrel-kv4-torque-specifications.pdf"
QUESTION = (
    "What torque and thread-locker are specified for the front caliper carrier bolts of the Kestrel KV-4?"
)


@pytest.fixture
def kv4(make_assistant: Callable[..., Assistant], tmp_path: Path) -> Assistant:
    root = tmp_path / "docs"
    (root / "chassis").mkdir(parents=True)
    for name in (KV4, f"{KV4}.meta.yaml"):
        shutil.copy(SAMPLES / name, root / name)
    assistant = make_assistant()
    assert Ingestor(assistant).run([root]).ok
    return assistant


def test_kv4_torque_rows_are_whole_in_a_chunk_under_their_header(kv4: Assistant) -> None:
    stored = kv4.store.document_by_source(KV4)
    assert stored is not None
    page2 = [c for c in kv4.store.chunks_of(stored.document.doc_id) if c.page == 2]
    rows = [line for c in page2 for line in c.text.split("\n") if "Front caliper carrier to knuckle" in line]
    assert rows and all("M16 x 1.5" in row and "230 ± 15" in row for row in rows)
    chunk = next(c for c in page2 if rows[0] in c.text.split("\n"))
    lines = chunk.text.split("\n")
    header = next(line for line in lines if parse_row(line) is not None)
    assert parse_row(header) == ["Ref.", "Fastener", "Size", "Torque (N·m)", "Angle", "Thread-locker"]
    assert parse_row(rows[0]) == [
        "B-01",
        "Front caliper carrier to knuckle",
        "M16 x 1.5",
        "230 ± 15",
        "-",
        "TL-A",
    ]


def test_extractive_answer_quotes_the_asked_row_readably(kv4: Assistant) -> None:
    hits = kv4.retriever.search(QUESTION, Principal.of("mechanic", ["brand-kestrel"]), k=6)
    prompt = Prompt("test", (), QUESTION, tuple(hits))
    answer = "".join(ExtractiveGenerator(kv4.embedder).stream(prompt))
    first = answer.split(" [")[0]
    assert "Front caliper carrier to knuckle" in first and "230 ± 15 N·m" in first and "TL-A" in first
    assert "|" not in answer
