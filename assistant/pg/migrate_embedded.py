"""Copy an embedded installation (``EKA_HOME``: store, embedding cache, API keys, provenance log, feedback)
into a PostgreSQL database, without embedding anything again (``eka db migrate-from-embedded``).

What is copied, in this order:

1. **The embedding cache**, every model's vectors, by passage hash (:meth:`PgStore.put_vectors`): hashes the
   database already caches are not sent again.
2. **Documents and chunks** through the ``Store`` protocol: each document with its metadata, access list,
   owner, ``ingested_at``, recipe and hashes, and its chunks with their passage hashes
   (:meth:`PgStore.replace_document`, which builds the BM25 postings and takes each chunk's vector from the
   cache copied in step 1). A document the database already holds with the same sha256, metadata hash,
   recipe and number of chunks is skipped; one that differs is replaced by the embedded version.
3. **API keys** as stored: id, secret hash, user, groups, roles, created and revoked times. A key already
   there (same id and hash) is kept, and takes the embedded revocation if it has none.
4. **The provenance log** row for row (seq, id, times, the exact canonical text, ``prev_hash``, ``hash``), so
   the chain verifies and answers keep their provenance ids; then **feedback** (an identical entry already
   there is not added again).

So the copy is resumable and idempotent: run it again after an interruption, or after more was ingested into
the embedded installation, and it copies only what is missing. Documents the database holds that the
embedded store lacks are left alone (and counted). It refuses (:class:`MigrationRefused`, nothing of that
step written) when the database's provenance chain and the embedded one differ (neither starts the
other), a key id in the database has another secret, or the embedded chain itself does not verify.

The embedded installation should not change while it is copied (stop ``eka serve`` first); it is only read.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.audit import walk
from assistant.errors import EkaError, NotFound
from assistant.originals import UPLOADS, FileOriginals
from assistant.pg.db import Database
from assistant.pg.originals import PgOriginals
from assistant.pg.store import PgStore
from assistant.sqlite_store import SQLiteStore
from assistant.store import StoredDocument
from assistant.types import Chunk

# Vectors sent to the database per transaction.
VECTOR_BATCH = 1000
# A progress line every this many documents.
PROGRESS_EVERY = 25

Progress = Callable[[str], None]


class MigrationRefused(EkaError):
    """The database holds something that contradicts the embedded installation (or the source is missing or
    broken); the step that found it wrote nothing."""


@dataclass
class MigrationReport:
    """What one run copied and skipped (``*_present``: already in the database, left as they were)."""

    model_id: str
    documents: int = 0
    documents_present: int = 0
    documents_extra: int = 0  # in the database but not in the embedded store: left alone
    chunks: int = 0
    vectors: int = 0
    vectors_present: int = 0
    keys: int = 0
    keys_present: int = 0
    keys_revoked: int = 0  # keys already copied whose embedded revocation was carried over
    records: int = 0
    records_present: int = 0
    feedback: int = 0
    feedback_present: int = 0
    originals: int = 0  # uploaded files kept under EKA_HOME/uploads, now in the database (page images)
    seconds: float = 0.0
    models: dict[str, int] = field(default_factory=dict)  # cached vectors per model in the source

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready values (``seconds`` rounded to milliseconds)."""
        out = asdict(self)
        out["seconds"] = round(self.seconds, 3)
        return out


def migrate_embedded(
    home: Path, database: Database, model_id: str, progress: Progress | None = None
) -> MigrationReport:
    """Copy the embedded installation under ``home`` into ``database`` (its schema current), resumably.

    Args:
        home: the embedded installation's folder (``EKA_HOME``): ``eka.sqlite3``, and ``keys.sqlite3`` and
            ``audit.sqlite3`` when present.
        database: the target database's pool (:func:`assistant.pg.db.shared`).
        model_id: the embedding model the installation searches with (``model_spec(...).model_id``): the
            model of the database's chunk vectors when the database has none recorded yet.
        progress: called with one line of text at each step and every few documents.

    Returns:
        What was copied and what was already there.

    Raises:
        MigrationRefused: no embedded store under ``home``, its provenance chain is broken, or the
            database contradicts it (module docstring).
        ConfigError: the database is unreachable or its schema is not this version's.

    Example:
        >>> report = migrate_embedded(Path(".eka"), shared(url), spec.model_id, print)  # doctest: +SKIP
        >>> report.documents, report.records  # doctest: +SKIP
        (12, 40)
    """
    say = progress or (lambda _line: None)
    started = time.perf_counter()
    store_path = home / "eka.sqlite3"
    if not store_path.is_file():
        raise MigrationRefused(
            f"no embedded store at {store_path}: point --from-home at the EKA_HOME to copy"
        )
    report = MigrationReport(model_id)
    source = SQLiteStore(store_path)
    try:
        target = PgStore(database)  # no embedder: nothing is ever embedded here
        _copy_cache(source, target, report, say)
        _copy_documents(source, target, model_id, report, say)
        _copy_originals(home, source, database, report, say)
    finally:
        source.close()
    _copy_keys(home / "keys.sqlite3", database, report, say)
    _copy_provenance(home / "audit.sqlite3", database, report, say)
    report.seconds = time.perf_counter() - started
    return report


def _copy_cache(source: SQLiteStore, target: PgStore, report: MigrationReport, say: Progress) -> None:
    """Every model's cached vectors the database lacks, in batches (each batch one transaction)."""
    report.models = source.cached_models()
    for model, total in sorted(report.models.items()):
        present = set(target.cached_hashes(model))
        missing = [h for h in source.cached_hashes(model) if h not in present]
        report.vectors_present += total - len(missing)
        say(f"embedding cache {model}: {total} vectors, {len(missing)} to copy")
        for start in range(0, len(missing), VECTOR_BATCH):
            vectors = source.cached_vectors(model, missing[start : start + VECTOR_BATCH])
            target.put_vectors(model, vectors)
            report.vectors += len(vectors)
            say(f"  {model}: {min(start + VECTOR_BATCH, len(missing))}/{len(missing)} vectors")


def _copy_documents(
    source: SQLiteStore, target: PgStore, model_id: str, report: MigrationReport, say: Progress
) -> None:
    """Every document the database lacks (or holds differently), with its chunks and passage hashes."""
    present = {s.document.doc_id: s for s in target.documents()}
    counts = target.chunk_counts()
    rows = source.index_rows()
    by_doc: dict[str, list[tuple[int, str]]] = {}
    for rowid, doc_id, embed_hash in zip(rows.rowids.tolist(), rows.doc_ids, rows.embed_hashes, strict=True):
        by_doc.setdefault(doc_id, []).append((int(rowid), embed_hash))
    documents = source.documents()
    report.documents_extra = len(set(present) - {s.document.doc_id for s in documents})
    say(f"documents: {len(documents)} in the embedded store, {len(present)} in the database")
    for done, stored in enumerate(documents, start=1):
        doc_id = stored.document.doc_id
        chunk_rows = by_doc.get(doc_id, [])
        if _same(present.get(doc_id), stored) and counts.get(doc_id, 0) == len(chunk_rows):
            report.documents_present += 1
        else:
            chunks, hashes = _chunks_with_hashes(source, chunk_rows)
            # The vectors are in the database's cache already (_copy_cache): none to pass along.
            target.replace_document(stored, chunks, hashes, model_id, {})
            report.documents += 1
            report.chunks += len(chunks)
        if done % PROGRESS_EVERY == 0 or done == len(documents):
            say(f"  {done}/{len(documents)} documents ({report.documents} copied, {report.chunks} chunks)")


def _copy_originals(
    home: Path, source: SQLiteStore, database: Database, report: MigrationReport, say: Progress
) -> None:
    """The kept files of uploads (``EKA_HOME/uploads``) into the database, so every host renders their pages;
    a file that is gone or changed since its upload is left out (its page images were unavailable already)."""
    files, rows = FileOriginals(home), PgOriginals(database, home)
    for stored in source.documents():
        if not stored.document.source.startswith(UPLOADS):
            continue
        try:
            files.read(stored)
        except NotFound:
            continue
        rows.keep(stored.document.source, home / stored.document.source)
        report.originals += 1
    if report.originals:
        say(f"uploaded originals: {report.originals} copied")


def _same(there: StoredDocument | None, here: StoredDocument) -> bool:
    """Whether the database's copy of a document is the embedded one (content, metadata, chunking)."""
    return (
        there is not None
        and there.document.sha256 == here.document.sha256
        and there.meta_hash == here.meta_hash
        and there.recipe == here.recipe
        and there.document.source == here.document.source
    )


def _chunks_with_hashes(source: SQLiteStore, rows: list[tuple[int, str]]) -> tuple[list[Chunk], list[str]]:
    """A document's chunks in reading order with each one's stored passage hash (kept as it is, even when a
    later title change means the passage is no longer that text: the embedded store keeps it so too)."""
    hashes = dict(rows)
    chunks = source.chunks_by_rowid([r for r, _h in rows])
    ordered = sorted(chunks.items(), key=lambda item: item[1].ordinal)
    return [c for _r, c in ordered], [hashes[r] for r, _c in ordered]


@contextmanager
def _sqlite(path: Path) -> Iterator[sqlite3.Connection | None]:
    """A read-only connection to one of the installation's SQLite files; ``None`` when it does not exist."""
    if not path.is_file():
        yield None
        return
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        yield db


def _copy_keys(path: Path, database: Database, report: MigrationReport, say: Progress) -> None:
    """API keys as stored (secret hashes only), in one transaction."""
    with _sqlite(path) as db:
        if db is None:
            say("API keys: none (no keys.sqlite3)")
            return
        rows = db.execute(
            "SELECT key_id, hash, user, groups, roles, created_at, revoked_at FROM keys ORDER BY created_at"
        ).fetchall()
    with database.connection() as conn:
        there = dict(conn.execute("SELECT key_id, hash FROM api_keys").fetchall())
        clash = sorted(r[0] for r in rows if r[0] in there and there[r[0]] != r[1])
        if clash:
            raise MigrationRefused(f"the database holds API keys {clash} with other secrets: nothing copied")
        fresh = [r for r in rows if r[0] not in there]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO api_keys (key_id, hash, user_id, groups, roles, created_at, revoked_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [
                    (key_id, digest, user, json.loads(groups), json.loads(roles), _time(made), _time(gone))
                    for key_id, digest, user, groups, roles, made, gone in fresh
                ],
            )
        revoked = [(_time(r[6]), r[0]) for r in rows if r[0] in there and r[6] is not None]
        for when, key_id in revoked:
            updated = conn.execute(
                "UPDATE api_keys SET revoked_at = %s WHERE key_id = %s AND revoked_at IS NULL", (when, key_id)
            )
            report.keys_revoked += updated.rowcount
    report.keys = len(fresh)
    report.keys_present = len(rows) - len(fresh)
    say(f"API keys: {report.keys} copied, {report.keys_present} already there")


def _copy_provenance(path: Path, database: Database, report: MigrationReport, say: Progress) -> None:
    """The provenance chain row for row, then feedback, in one transaction holding the chain's head."""
    with _sqlite(path) as db:
        if db is None:
            say("provenance: none (no audit.sqlite3)")
            return
        records = db.execute(
            "SELECT seq, id, created_at, user_id, record, prev_hash, hash FROM provenance ORDER BY seq"
        ).fetchall()
        feedback = db.execute(
            "SELECT provenance_id, user_id, rating, comment, created_at FROM feedback ORDER BY seq"
        ).fetchall()
    chain = walk((r[0], r[1], r[4], r[5], r[6]) for r in records)
    if not chain.ok:
        raise MigrationRefused(f"the embedded provenance chain does not verify: {'; '.join(chain.problems)}")
    with database.connection() as conn:
        head = conn.execute("SELECT seq, hash FROM provenance_head FOR UPDATE").fetchone()
        if head is None:
            raise MigrationRefused("the provenance head row is missing: run `eka db upgrade`")
        there = conn.execute("SELECT seq, id, hash FROM provenance ORDER BY seq").fetchall()
        # One chain must start the other: the database's a part copied earlier, or the embedded one all
        # copied before and answers appended in the database since.
        if any((r[0], r[1], r[6]) != tuple(t) for r, t in zip(records, there, strict=False)):
            raise MigrationRefused(
                f"the database's provenance log ({len(there)} records) and the embedded one"
                f" ({len(records)} records) are different chains: the embedded one cannot be continued"
                " there; nothing copied"
            )
        fresh = records[len(there) :]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO provenance (seq, id, created_at, user_id, record, prev_hash, hash)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [
                    (seq, pid, _time(made), user, text, prev, digest)
                    for seq, pid, made, user, text, prev, digest in fresh
                ],
            )
        if fresh:
            conn.execute("UPDATE provenance_head SET seq = %s, hash = %s", (fresh[-1][0], fresh[-1][6]))
        given = Counter(
            (pid, user, rating, comment, _iso(made))
            for pid, user, rating, comment, made in conn.execute(
                "SELECT provenance_id, user_id, rating, comment, created_at FROM feedback"
            )
        )
        missing: list[tuple[str, str, str, str | None, str]] = []
        for pid, user, rating, comment, made in feedback:
            entry = (pid, user, rating, comment, _iso(_time(made)))
            if given[entry]:
                given[entry] -= 1
                report.feedback_present += 1
            else:
                missing.append((pid, user, rating, comment, made))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO feedback (provenance_id, user_id, rating, comment, created_at)"
                " VALUES (%s, %s, %s, %s, %s)",
                [(pid, user, rating, comment, _time(made)) for pid, user, rating, comment, made in missing],
            )
    report.records = len(fresh)
    report.records_present = min(len(there), len(records))
    report.feedback = len(missing)
    say(
        f"provenance: {report.records} records copied, {report.records_present} already there;"
        f" feedback: {report.feedback} copied, {report.feedback_present} already there"
    )


def _time(text: str | None) -> datetime | None:
    """An embedded ISO 8601 timestamp as an aware datetime (UTC when it names no zone)."""
    if text is None:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str:
    """A timestamp as UTC ISO 8601 to the second (how feedback times compare)."""
    return value.astimezone(UTC).isoformat(timespec="seconds") if value is not None else ""
