"""``eka db migrate-from-embedded``: the ingested samples plus keys, provenance and feedback made by the real
embedded classes, copied into a real PostgreSQL database, then checked piece by piece: documents, chunks,
vectors (never re-embedded), keys, the provenance chain, search results, and a second run that copies
nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg
import pytest

from assistant.app import Assistant, build_assistant
from assistant.audit import SQLiteAuditLog
from assistant.config import Settings
from assistant.embedding import SentenceTransformerEmbedder
from assistant.keys import SQLiteKeyStore
from assistant.pg import db
from assistant.pg.audit import PgAuditLog
from assistant.pg.keys import PgKeyStore
from assistant.pg.migrate_embedded import MigrationRefused, MigrationReport, migrate_embedded
from assistant.pg.store import PgStore
from assistant.sqlite_store import SQLiteStore
from assistant.types import Principal, SearchMode
from tests.conftest import SAMPLE_GROUPS
from tests.pg import PgServer
from tests.ranking import ranking_difference

ROOT = Path(__file__).resolve().parents[2]
QUERIES = (
    "brake pad wear limit",
    "battery thermal runaway",
    "torque specification for the bolts",
    "firmware update signing",
    "warranty claim process",
)
MODES: tuple[SearchMode, ...] = ("hybrid", "dense", "lexical")
PERSONAS = (
    Principal.of("outsider", ["public"]),
    Principal.of("battery-engineer", ["public", "battery"]),
    Principal.of("everyone", list(SAMPLE_GROUPS)),
)


@dataclass
class Home:
    """An embedded installation with keys and provenance, and what the test made in it."""

    path: Path
    secrets: dict[str, str]  # key id -> secret
    revoked: str  # the revoked key's id
    record_ids: list[str]


def _no_embedding(*_args: object, **_kwargs: object) -> np.ndarray:
    raise AssertionError("the migration must not embed anything")


@pytest.fixture(scope="module")
def home(ingested_samples: Assistant, tmp_path_factory: pytest.TempPathFactory) -> Home:
    """A copy of the ingested samples' home, plus three keys (one revoked), three answers and feedback."""
    path = tmp_path_factory.mktemp("migrate-home") / "home"
    shutil.copytree(ingested_samples.settings.home, path)
    keys = SQLiteKeyStore(path / "keys.sqlite3")
    secrets: dict[str, str] = {}
    for user, groups, roles in (
        ("ann", ["battery"], ["ingest"]),
        ("bob", ["quality"], []),
        ("cy", [], ["admin"]),
    ):
        record, secret = keys.create(user, groups, roles)
        secrets[record.key_id] = secret
    revoked = keys.revoke("bob")[0]
    keys.close()
    audit = SQLiteAuditLog(path / "audit.sqlite3")
    ids = [
        audit.append(u, {"question": q, "answer": "ü ✓ 2 mm"})
        for u, q in (("ann", "a?"), ("cy", "b?"), ("ann", "c?"))
    ]
    audit.add_feedback(ids[0], "ann", "up", "useful")
    audit.add_feedback(ids[0], "ann", "up", "useful")  # the same twice: both kept
    audit.add_feedback(ids[2], "cy", "down", None)
    audit.close()
    return Home(path, secrets, revoked, ids)


@pytest.fixture(scope="module")
def migrated(pg_server: PgServer, home: Home) -> Iterator[tuple[str, MigrationReport]]:
    """A fresh database with the home copied in, every embedder call failing meanwhile."""
    url = pg_server.fresh()
    lines: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SentenceTransformerEmbedder, "embed_passages", _no_embedding)
        patch.setattr(SentenceTransformerEmbedder, "embed_queries", _no_embedding)
        report = migrate_embedded(home.path, db.shared(url), _model_id(), lines.append)
    assert any("documents" in line for line in lines)
    yield url, report
    pg_server.drop(url)


def _model_id() -> str:
    from assistant.embedding import model_spec

    return model_spec("all-MiniLM-L6-v2").model_id


def _pg_assistant(url: str, home: Path, embedder: SentenceTransformerEmbedder) -> Assistant:
    settings = Settings(home=home, database_url=url, _env_file=None)  # type: ignore[call-arg]
    return build_assistant(settings, embedder=embedder)


def test_documents_chunks_and_hashes_are_copied_as_they_are(
    home: Home, migrated: tuple[str, MigrationReport]
) -> None:
    url, report = migrated
    source, target = SQLiteStore(home.path / "eka.sqlite3"), PgStore(db.shared(url))
    try:
        documents = source.documents()
        assert target.documents() == documents  # metadata, access lists, owners, ingested_at, recipes, hashes
        assert report.documents == len(documents) and report.documents_present == 0
        assert report.chunks == source.counts()["chunks"] == target.counts()["chunks"]
        for stored in documents:
            assert target.chunks_of(stored.document.doc_id) == source.chunks_of(stored.document.doc_id)
        src, dst = source.index_rows(), target.index_rows()
        assert sorted(zip(src.doc_ids, src.embed_hashes, src.passages, strict=True)) == sorted(
            zip(dst.doc_ids, dst.embed_hashes, dst.passages, strict=True)
        )
        assert target.check() == []
    finally:
        source.close()


def test_the_whole_embedding_cache_and_every_chunk_vector_are_copied_unchanged(
    home: Home, migrated: tuple[str, MigrationReport]
) -> None:
    url, report = migrated
    source, target = SQLiteStore(home.path / "eka.sqlite3"), PgStore(db.shared(url))
    try:
        assert target.cached_models() == source.cached_models() == report.models
        assert report.vectors == sum(report.models.values())
        for model in report.models:
            hashes = source.cached_hashes(model)
            assert target.cached_hashes(model) == hashes
            there, here = target.cached_vectors(model, hashes), source.cached_vectors(model, hashes)
            assert all(np.array_equal(there[h], here[h]) for h in hashes)
        chunk_ids = [c.chunk_id for s in source.documents() for c in source.chunks_of(s.document.doc_id)]
        there, here = (
            target.chunk_vectors(_model_id(), chunk_ids),
            source.chunk_vectors(_model_id(), chunk_ids),
        )
        assert set(there) == set(here) == set(chunk_ids)
        assert all(np.array_equal(there[c], here[c]) for c in chunk_ids)
        with psycopg.connect(url) as conn:  # the vectors PostgreSQL searches are the cached ones
            assert conn.execute("SELECT count(*) FROM chunks WHERE embedding IS NULL").fetchone() == (0,)
            assert conn.execute("SELECT model_id FROM store_state").fetchone() == (_model_id(),)
    finally:
        source.close()


def test_keys_keep_working_and_revoked_keys_stay_revoked(
    home: Home, migrated: tuple[str, MigrationReport]
) -> None:
    url, report = migrated
    embedded, keys = SQLiteKeyStore(home.path / "keys.sqlite3"), PgKeyStore(db.shared(url))
    try:
        assert report.keys == 3
        assert keys.keys(include_revoked=True) == embedded.keys(include_revoked=True)
        for key_id, secret in home.secrets.items():
            found = keys.authenticate(secret)
            if key_id == home.revoked:
                assert found is None
            else:
                assert found is not None and found == embedded.authenticate(secret)
    finally:
        embedded.close()


def test_the_provenance_chain_verifies_with_the_same_ids_hashes_and_feedback(
    home: Home, migrated: tuple[str, MigrationReport]
) -> None:
    url, report = migrated
    embedded, audit = SQLiteAuditLog(home.path / "audit.sqlite3"), PgAuditLog(db.shared(url))
    try:
        assert (report.records, report.feedback) == (3, 3)
        chain = audit.verify(anchor=embedded.verify().head)
        assert chain.ok and chain.records == 3 and chain.head == embedded.verify().head
        assert audit.records() == embedded.records()  # seq, ids, times, content, links
        for pid in home.record_ids:
            assert audit.feedback(pid) == embedded.feedback(pid)
        appended = audit.append("ann", {"question": "after the move?"})  # the chain goes on from there
        assert audit.verify().ok and audit.get(appended).prev_hash == embedded.verify().head
    finally:
        embedded.close()


def test_searches_return_the_same_top_results_as_the_embedded_store(
    ingested_samples: Assistant,
    home: Home,
    migrated: tuple[str, MigrationReport],
    embedder: SentenceTransformerEmbedder,
) -> None:
    url, _report = migrated
    pg = _pg_assistant(url, home.path, embedder)
    try:
        assert pg.searcher.verify() == []
        for mode in MODES:
            for persona in PERSONAS:
                for query in QUERIES:
                    here = ingested_samples.retriever.search(query, persona, k=5, mode=mode)
                    there = pg.retriever.search(query, persona, k=5, mode=mode)
                    # the same ranking, up to chunks whose scores tie within 1e-4 (tests/ranking.py)
                    assert ranking_difference(here, there) is None, (mode, persona.user_id, query)
    finally:
        pg.close()


def test_a_second_run_copies_nothing_and_changes_nothing(
    home: Home, migrated: tuple[str, MigrationReport]
) -> None:
    url, first = migrated
    target = PgStore(db.shared(url))
    generation = target.generation()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SentenceTransformerEmbedder, "embed_passages", _no_embedding)
        again = migrate_embedded(home.path, db.shared(url), _model_id())
    assert (again.documents, again.chunks, again.vectors, again.keys, again.records, again.feedback) == (
        0,
        0,
        0,
        0,
        0,
        0,
    )
    assert again.documents_present == first.documents
    assert again.vectors_present == first.vectors
    assert (again.keys_present, again.feedback_present) == (3, 3)
    assert again.records_present == 3  # answers appended in the database after the move are fine
    assert target.generation() == generation
    assert PgAuditLog(db.shared(url)).verify().ok


def test_a_resumed_run_copies_only_what_is_missing(pg_server: PgServer, home: Home) -> None:
    url = pg_server.fresh()
    try:
        source = SQLiteStore(home.path / "eka.sqlite3")
        documents = source.documents()
        source.close()
        first = migrate_embedded(home.path, db.shared(url), _model_id())
        target = PgStore(db.shared(url))
        gone = documents[0].document.doc_id
        target.remove_document(gone)  # as if the first run had stopped before this one
        again = migrate_embedded(home.path, db.shared(url), _model_id())
        assert (again.documents, again.documents_present) == (1, len(documents) - 1)
        assert again.chunks == len(target.chunks_of(gone)) > 0
        assert target.documents() == documents and target.check() == []
        assert first.documents == len(documents)
    finally:
        pg_server.drop(url)


def test_a_later_run_brings_new_answers_feedback_and_revocations_over(
    pg_server: PgServer, home: Home, tmp_path: Path
) -> None:
    later = tmp_path / "home"
    shutil.copytree(home.path, later)
    url = pg_server.fresh()
    try:
        migrate_embedded(later, db.shared(url), _model_id())
        keys, audit = SQLiteKeyStore(later / "keys.sqlite3"), SQLiteAuditLog(later / "audit.sqlite3")
        keys.revoke("ann")
        new = audit.append("cy", {"question": "still embedded?"})
        audit.add_feedback(new, "cy", "down", "late")
        again = migrate_embedded(later, db.shared(url), _model_id())
        assert (again.keys, again.keys_revoked, again.records, again.feedback) == (0, 1, 1, 1)
        pg_keys, pg_audit = PgKeyStore(db.shared(url)), PgAuditLog(db.shared(url))
        assert pg_keys.keys(include_revoked=True) == keys.keys(include_revoked=True)
        assert all(
            pg_keys.authenticate(s) is None for s in home.secrets.values() if keys.authenticate(s) is None
        )
        chain = pg_audit.verify()
        assert chain.ok and chain.records == 4 and chain.head == audit.verify().head
        assert pg_audit.feedback(new) == audit.feedback(new)
        keys.close()
        audit.close()
    finally:
        pg_server.drop(url)


def test_a_database_with_another_provenance_chain_is_refused(pg_server: PgServer, home: Home) -> None:
    url = pg_server.fresh()
    try:
        PgAuditLog(db.shared(url)).append("mallory", {"question": "elsewhere"})
        with pytest.raises(MigrationRefused, match="different chains"):
            migrate_embedded(home.path, db.shared(url), _model_id())
        assert len(PgAuditLog(db.shared(url)).records()) == 1
    finally:
        pg_server.drop(url)


def test_a_key_id_with_another_secret_is_refused(pg_server: PgServer, home: Home) -> None:
    url = pg_server.fresh()
    key_id = next(iter(home.secrets))
    try:
        with psycopg.connect(url) as conn:
            conn.execute(
                "INSERT INTO api_keys (key_id, hash, user_id, groups, roles, created_at)"
                " VALUES (%s, %s, 'mallory', '{}', '{}', now())",
                (key_id, "0" * 64),
            )
        with pytest.raises(MigrationRefused, match="other secrets"):
            migrate_embedded(home.path, db.shared(url), _model_id())
        assert [k.user for k in PgKeyStore(db.shared(url)).keys(include_revoked=True)] == ["mallory"]
    finally:
        pg_server.drop(url)


def test_a_home_without_a_store_is_refused(pg_url: str, tmp_path: Path) -> None:
    with pytest.raises(MigrationRefused, match="no embedded store"):
        migrate_embedded(tmp_path / "nothing", db.shared(pg_url), _model_id())


def _eka(home: Path, url: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "EKA_DATABASE_URL"}
    env.update({"EKA_HOME": str(home), "COLUMNS": "200", "PYTHONPATH": str(ROOT)})
    if url is not None:
        env["EKA_DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "eka", *args],
        env=env,
        cwd=home.parent,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.e2e
def test_the_command_copies_then_index_and_audit_verify_pass(pg_url: str, home: Home, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"  # EKA_HOME of the PostgreSQL installation: not the embedded one
    other.mkdir()
    result = _eka(other, pg_url, "db", "migrate-from-embedded", "--from-home", str(home.path), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    source = SQLiteStore(home.path / "eka.sqlite3")
    counts = source.counts()
    source.close()
    assert (summary["documents"], summary["chunks"], summary["keys"], summary["records"]) == (
        counts["documents"],
        counts["chunks"],
        3,
        3,
    )
    assert summary["vectors"] == counts["embeddings"] and summary["seconds"] > 0
    assert "documents" in result.stderr  # progress goes to stderr with --json

    for command in (("index", "verify"), ("audit", "verify")):
        check = _eka(other, pg_url, *command)
        assert check.returncode == 0, (command, check.stdout, check.stderr)
    again = _eka(other, pg_url, "db", "migrate-from-embedded", "--from-home", str(home.path))
    assert again.returncode == 0, again.stderr
    assert "copied 0 documents (0 chunks), 0 vectors, 0 API keys, 0 provenance records" in again.stdout

    missing = _eka(other, pg_url, "db", "migrate-from-embedded", "--from-home", str(tmp_path / "none"))
    assert missing.returncode == 2 and "no embedded store" in missing.stderr
    unset = _eka(other, None, "db", "migrate-from-embedded", "--from-home", str(home.path))
    assert unset.returncode == 2 and "EKA_DATABASE_URL is not set" in unset.stderr


def test_uploaded_originals_move_into_the_database(
    make_assistant: Callable[..., Assistant], pg_url: str, tmp_path: Path
) -> None:
    """Page images of uploads render on every host afterwards: the kept files are copied into the database."""
    from assistant.originals import FileOriginals
    from assistant.pg.originals import PgOriginals
    from ingest.pipeline import Ingestor

    embedded = make_assistant("uploads-home")
    note = tmp_path / "note.md"
    note.write_bytes(b"# Damper note\n\nThe damper is bled at 7.5 bar.\n")
    source = "uploads/una/note.md"
    assert Ingestor(embedded).run_file(note, source, owner="una").ok
    FileOriginals(embedded.settings.home).keep(source, note)
    report = migrate_embedded(embedded.settings.home, db.shared(pg_url), _model_id())
    assert report.originals == 1
    stored = embedded.store.document_by_source(source)
    assert stored is not None
    assert PgOriginals(db.shared(pg_url), tmp_path / "another-host").read(stored) == note.read_bytes()
