"""The ``Originals`` contract (assistant/originals.py) on both backends: an upload's bytes are kept under its
source and read back only while they are the ingested version; other documents are read from their root."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.errors import NotFound
from assistant.originals import FileOriginals, Originals
from assistant.pg.db import shared
from assistant.pg.originals import PgOriginals
from assistant.pg.store import PgStore
from assistant.store import StoredDocument
from assistant.types import Document
from tests.pg import PgServer

PDF = b"%PDF-1.4 not really a pdf, just bytes\x00\x01"
UPLOAD = "uploads/ann/spec.pdf"


def _postgres(request: pytest.FixtureRequest) -> Callable[[Path], Originals]:
    """PgOriginals on a fresh database whose store holds the upload's document (an upload keeps its bytes
    after its document is stored; the row goes with the document)."""
    server: PgServer = request.getfixturevalue("pg_server")
    url = server.fresh()
    request.addfinalizer(lambda: server.drop(url))
    stored = _stored(UPLOAD, PDF, Path("/"))
    PgStore(shared(url)).replace_document(stored, [], [], "model", {})
    return lambda home: PgOriginals(shared(url), home)


BACKENDS: dict[str, Callable[[pytest.FixtureRequest], Callable[[Path], Originals]]] = {
    "files": lambda _request: FileOriginals,
    "postgres": _postgres,
}


@pytest.fixture(params=sorted(BACKENDS))
def make(request: pytest.FixtureRequest) -> Callable[[Path], Originals]:
    """Opens the backend's originals as seen from one host's EKA_HOME (the upload's document exists)."""
    return BACKENDS[request.param](request)


def _stored(source: str, data: bytes, root: Path) -> StoredDocument:
    document = Document(
        "doc-1", source, hashlib.sha256(data).hexdigest(), "T", "application/pdf", {}, frozenset({"a"}), "now"
    )
    return StoredDocument(document, str(root), "meta", len(data), "recipe")


def test_an_upload_is_kept_and_read_back(make: Callable[[Path], Originals], tmp_path: Path) -> None:
    originals = make(tmp_path / "home")
    upload = tmp_path / "incoming.pdf"
    upload.write_bytes(PDF)
    originals.keep(UPLOAD, upload)
    upload.unlink()  # the request's temporary file is gone; the kept copy is not
    assert originals.read(_stored(UPLOAD, PDF, tmp_path)) == PDF


def test_a_changed_or_forgotten_upload_is_not_found(
    make: Callable[[Path], Originals], tmp_path: Path
) -> None:
    originals = make(tmp_path / "home")
    upload = tmp_path / "incoming.pdf"
    upload.write_bytes(PDF)
    originals.keep(UPLOAD, upload)
    with pytest.raises(NotFound, match="changed"):  # the stored document is another version
        originals.read(_stored(UPLOAD, PDF + b"v2", tmp_path))
    originals.forget(UPLOAD)
    with pytest.raises(NotFound, match="no longer available"):
        originals.read(_stored(UPLOAD, PDF, tmp_path))
    originals.forget(UPLOAD)  # twice: nothing to do


def test_a_cli_document_is_read_from_its_root(make: Callable[[Path], Originals], tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    (root / "brakes").mkdir(parents=True)
    (root / "brakes" / "spec.pdf").write_bytes(PDF)
    originals = make(tmp_path / "home")
    assert originals.read(_stored("brakes/spec.pdf", PDF, root)) == PDF
    originals.forget("brakes/spec.pdf")  # never deletes a file it did not keep
    assert (root / "brakes" / "spec.pdf").read_bytes() == PDF
    (root / "brakes" / "spec.pdf").write_bytes(PDF + b"edited")
    with pytest.raises(NotFound, match="changed"):
        originals.read(_stored("brakes/spec.pdf", PDF, root))


def test_postgres_uploads_are_read_by_every_host(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Two API hosts (two EKA_HOMEs) on one database: an upload kept by one is rendered by the other."""
    make = _postgres(request)
    upload = tmp_path / "incoming.pdf"
    upload.write_bytes(PDF)
    make(tmp_path / "host-a").keep(UPLOAD, upload)
    assert make(tmp_path / "host-b").read(_stored(UPLOAD, PDF, tmp_path)) == PDF
    assert not (tmp_path / "host-a" / "uploads").exists()  # nothing kept on the host's own disk
