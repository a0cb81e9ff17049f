"""Uploaded originals on PostgreSQL (``PgOriginals``): kept with their document, gone with it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.app import Assistant
from assistant.errors import NotFound
from assistant.pg.db import shared
from assistant.pg.originals import PgOriginals
from ingest.pipeline import Ingestor, doc_id_for

pytestmark = pytest.mark.integration

SOURCE = "uploads/una/note.md"


def test_an_uploads_original_is_kept_with_its_document_and_goes_with_it(
    make_assistant: Callable[..., Assistant], pg_url: str, tmp_path: Path
) -> None:
    assistant = make_assistant(database_url=pg_url)
    originals = PgOriginals(shared(pg_url), tmp_path / "home")
    note = tmp_path / "note.md"
    note.write_bytes(b"# Note\n\nThe first version.\n")
    originals.keep(SOURCE, note)  # no document yet: nothing is kept
    assert Ingestor(assistant).run_file(note, SOURCE, owner="una").ok
    stored = assistant.store.document_by_source(SOURCE)
    assert stored is not None
    with pytest.raises(NotFound, match="no longer available"):
        originals.read(stored)
    originals.keep(SOURCE, note)
    assert originals.read(stored) == note.read_bytes()

    # A changed file replaces the document: the old bytes go with it until the upload keeps the new ones.
    note.write_bytes(b"# Note\n\nThe second version.\n")
    assert Ingestor(assistant).run_file(note, SOURCE, owner="una").ok
    replaced = assistant.store.document_by_source(SOURCE)
    assert replaced is not None
    with pytest.raises(NotFound):
        originals.read(replaced)
    originals.keep(SOURCE, note)
    assert originals.read(replaced) == note.read_bytes()

    assistant.store.remove_document(doc_id_for(SOURCE))
    with pytest.raises(NotFound):
        originals.read(replaced)
    with shared(pg_url).connection() as conn:
        assert conn.execute("SELECT count(*) FROM originals").fetchone() == (0,)
