"""Uploaded originals on PostgreSQL (``PgStore.put_original``): kept with their document, gone with it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.app import Assistant
from assistant.pg.store import PgStore
from ingest.pipeline import Ingestor, doc_id_for

pytestmark = pytest.mark.integration

SOURCE = "uploads/una/note.md"


def test_an_uploads_original_is_kept_with_its_document_and_goes_with_it(
    make_assistant: Callable[..., Assistant], pg_url: str, tmp_path: Path
) -> None:
    assistant = make_assistant(database_url=pg_url)
    store = assistant.store
    assert isinstance(store, PgStore)
    doc_id = doc_id_for(SOURCE)
    assert not store.put_original(doc_id, "0" * 64, b"no document yet")
    assert store.original(doc_id) is None

    note = tmp_path / "note.md"
    note.write_bytes(b"# Note\n\nThe first version.\n")
    assert Ingestor(assistant).run_file(note, SOURCE, owner="una").ok
    first = note.read_bytes()
    assert store.put_original(doc_id, hashlib.sha256(first).hexdigest(), first)
    assert store.original(doc_id) == (hashlib.sha256(first).hexdigest(), first)

    # A changed file replaces the document: the old bytes go with it until the upload keeps the new ones.
    note.write_bytes(b"# Note\n\nThe second version.\n")
    assert Ingestor(assistant).run_file(note, SOURCE, owner="una").ok
    assert store.original(doc_id) is None
    second = note.read_bytes()
    assert store.put_original(doc_id, hashlib.sha256(second).hexdigest(), second)

    store.remove_document(doc_id)
    assert store.original(doc_id) is None
