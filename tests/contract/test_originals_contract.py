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
from assistant.store import StoredDocument
from assistant.types import Document
from tests.pg import PgServer

PDF = b"%PDF-1.4 not really a pdf, just bytes\x00\x01"


def _postgres(request: pytest.FixtureRequest) -> Callable[[Path], Originals]:
    server: PgServer = request.getfixturevalue("pg_server")
    url = server.fresh()
    request.addfinalizer(lambda: server.drop(url))
    return lambda home: PgOriginals(shared(url), home)


BACKENDS: dict[str, Callable[[pytest.FixtureRequest], Callable[[Path], Originals]]] = {
    "files": lambda _request: FileOriginals,
    "postgres": _postgres,
}


@pytest.fixture(params=sorted(BACKENDS))
def make(request: pytest.FixtureRequest) -> Callable[[Path], Originals]:
    """Opens the backend's originals as seen from one host's EKA_HOME."""
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
    originals.keep("uploads/ann/spec.pdf", upload)
    upload.unlink()  # the request's temporary file is gone; the kept copy is not
    assert originals.read(_stored("uploads/ann/spec.pdf", PDF, tmp_path)) == PDF


def test_a_changed_or_forgotten_upload_is_not_found(
    make: Callable[[Path], Originals], tmp_path: Path
) -> None:
    originals = make(tmp_path / "home")
    upload = tmp_path / "incoming.pdf"
    upload.write_bytes(PDF)
    originals.keep("uploads/ann/spec.pdf", upload)
    with pytest.raises(NotFound, match="changed"):  # the stored document is another version
        originals.read(_stored("uploads/ann/spec.pdf", PDF + b"v2", tmp_path))
    originals.forget("uploads/ann/spec.pdf")
    with pytest.raises(NotFound, match="no longer available"):
        originals.read(_stored("uploads/ann/spec.pdf", PDF, tmp_path))
    originals.forget("uploads/ann/spec.pdf")  # twice: nothing to do


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
    make(tmp_path / "host-a").keep("uploads/ann/spec.pdf", upload)
    assert make(tmp_path / "host-b").read(_stored("uploads/ann/spec.pdf", PDF, tmp_path)) == PDF
    assert not (tmp_path / "host-a" / "uploads").exists()  # nothing kept on the host's own disk
