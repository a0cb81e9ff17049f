"""Provenance: one append-only, hash-chained record per answer, and the feedback given on answers.

Each record is canonical JSON. Its hash is ``sha256(previous hash + canonical JSON)``, so changing, removing
or reordering any record breaks every hash after it; :meth:`AuditLog.verify` walks the chain. The log lives
apart from the documents (its own SQLite file ``EKA_HOME/audit.sqlite3``, or its own tables in PostgreSQL), so
rebuilding indexes or removing documents never touches it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from assistant.errors import InvalidInput, NotFound
from assistant.fsutil import immediate, open_sqlite

GENESIS = "0" * 64
RATINGS = ("up", "down")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS provenance (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    user_id TEXT NOT NULL,
    record TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
    seq INTEGER PRIMARY KEY,
    provenance_id TEXT NOT NULL REFERENCES provenance(id),
    user_id TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT,
    created_at TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS provenance_no_update BEFORE UPDATE ON provenance
BEGIN SELECT RAISE(ABORT, 'provenance records are append-only'); END;
CREATE TRIGGER IF NOT EXISTS provenance_no_delete BEFORE DELETE ON provenance
BEGIN SELECT RAISE(ABORT, 'provenance records are append-only'); END;
"""


def canonical(record: dict[str, Any]) -> str:
    """The exact JSON text that is hashed: sorted keys, no spaces, UTF-8."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, text: str) -> str:
    """The hash of one record given the previous record's hash."""
    return hashlib.sha256((prev_hash + text).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A provenance record as stored, with its place in the chain."""

    seq: int
    provenance_id: str
    created_at: str
    user_id: str
    record: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The result of walking the chain."""

    records: int
    ok: bool
    problems: tuple[str, ...]
    head: str


def new_record(user_id: str, record: dict[str, Any]) -> tuple[str, str, str]:
    """A new provenance id, its creation time and the canonical text to append, for a backend.

    The text is ``record`` plus ``provenance_id``, ``created_at`` (UTC, milliseconds) and ``user_id``.
    """
    provenance_id = "ans_" + secrets.token_hex(12)
    created_at = datetime.now(UTC).isoformat(timespec="milliseconds")
    body = {**record, "provenance_id": provenance_id, "created_at": created_at, "user_id": user_id}
    return provenance_id, created_at, canonical(body)


def walk(rows: Iterable[tuple[int, str, str, str, str]], anchor: str | None = None) -> ChainReport:
    """Check a chain given as ``(seq, id, record text, prev_hash, hash)`` rows in ``seq`` order.

    Every backend's :meth:`AuditLog.verify` is this walk over its rows.
    """
    problems: list[str] = []
    anchored = anchor is None
    prev = GENESIS
    count = 0
    for seq, provenance_id, text, prev_hash, digest in rows:
        count += 1
        if prev_hash != prev:
            problems.append(f"record {seq} ({provenance_id}): link to the previous record is broken")
        if chain_hash(prev_hash, text) != digest:
            problems.append(f"record {seq} ({provenance_id}): content does not match its hash")
        else:
            try:
                if json.loads(text).get("provenance_id") != provenance_id:
                    problems.append(f"record {seq}: id does not match its content")
            except ValueError:
                problems.append(f"record {seq}: not valid JSON")
        prev = digest
        anchored = anchored or digest == anchor
    if not anchored:
        problems.append(f"the anchor {anchor} is not in the chain: records up to it were rewritten")
    return ChainReport(count, not problems, tuple(problems[:50]), prev)


def check_feedback(rating: str, comment: str | None) -> None:
    """Refuse feedback no backend should store.

    Raises:
        InvalidInput: a rating other than ``up`` or ``down``, or a NUL character in the comment.
    """
    if rating not in RATINGS:
        raise InvalidInput(f"a rating is 'up' or 'down', not {rating[:20]!r}")
    if comment is not None and "\x00" in comment:
        raise InvalidInput("a feedback comment must not contain NUL characters")


class AuditLog(Protocol):
    """The provenance seam: an append-only, hash-chained log of answer records, and feedback on them.

    What every backend keeps:

    - **One chain.** Appends are serialised across threads, processes and hosts: each record links to the
      one appended just before it (``prev_hash``), ``seq`` counts up from 1 without gaps, and :meth:`verify`
      finds the chain intact after any number of concurrent writers.
    - **Append-only.** The backend itself refuses to update or delete a record (a trigger), so only someone
      who bypasses it can, and :meth:`verify` (:func:`walk`) then names the records changed.
    - **Feedback** is kept per answer in the order given, outside the chain.

    Backends: :class:`SQLiteAuditLog` (``EKA_HOME/audit.sqlite3``) and
    :class:`assistant.pg.audit.PgAuditLog`; :func:`assistant.services.open_audit` picks one from the
    settings. ``tests/contract/test_audit_contract.py`` holds both to this contract.

    Example:
        >>> log = open_audit(Settings())  # doctest: +SKIP
        >>> pid = log.append("ann", {"question": "pad wear?"})  # doctest: +SKIP
        >>> log.verify().ok  # doctest: +SKIP
        True
    """

    def append(self, user_id: str, record: dict[str, Any]) -> str:
        """Append ``record`` (JSON-serialisable) and return its new provenance id (:func:`new_record`)."""
        ...

    def get(self, provenance_id: str) -> StoredRecord:
        """One record.

        Raises:
            NotFound: no record has that id.
        """
        ...

    def records(self, limit: int | None = None) -> list[StoredRecord]:
        """The most recent ``limit`` records (all without a positive limit), newest first."""
        ...

    def verify(self, anchor: str | None = None) -> ChainReport:
        """Recompute every hash in order; report the records whose text or links were changed.

        The chain alone cannot catch someone who rewrites it from some record to the end and recomputes every
        hash. ``anchor``, a head hash noted earlier somewhere else (printed by ``eka audit verify``), closes
        that gap: it must still be a hash in the chain.
        """
        ...

    def add_feedback(self, provenance_id: str, user_id: str, rating: str, comment: str | None) -> None:
        """Store feedback on an answer.

        Raises:
            NotFound: no record has that id.
            InvalidInput: a rating other than ``up`` or ``down``, or a NUL in the comment
                (:func:`check_feedback`).
        """
        ...

    def feedback(self, provenance_id: str) -> list[dict[str, Any]]:
        """Feedback on one answer, oldest first: ``user_id``, ``rating``, ``comment``, ``created_at``."""
        ...

    def close(self) -> None:
        """Release what this instance holds (idempotent)."""
        ...


class SQLiteAuditLog:
    """The embedded provenance log: one SQLite file shared by the host's processes.

    Example:
        >>> log = SQLiteAuditLog(Path(".eka/audit.sqlite3"))  # doctest: +SKIP
        >>> pid = log.append("ann", {"question": "pad wear?"})  # doctest: +SKIP
        >>> log.verify().ok  # doctest: +SKIP
        True
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._db = open_sqlite(path)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One immediate write transaction (serialises writers across processes too)."""
        with immediate(self._db, self._lock) as db:
            yield db

    def append(self, user_id: str, record: dict[str, Any]) -> str:
        """Append ``record`` (JSON-serialisable) and return its new provenance id."""
        provenance_id, created_at, text = new_record(user_id, record)
        with self._write() as db:
            row = db.execute("SELECT hash FROM provenance ORDER BY seq DESC LIMIT 1").fetchone()
            prev = row[0] if row else GENESIS
            db.execute(
                "INSERT INTO provenance (id, created_at, user_id, record, prev_hash, hash)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (provenance_id, created_at, user_id, text, prev, chain_hash(prev, text)),
            )
        return provenance_id

    def get(self, provenance_id: str) -> StoredRecord:
        """One record. Raises NotFound."""
        with self._lock:
            row = self._db.execute("SELECT * FROM provenance WHERE id = ?", (provenance_id,)).fetchone()
        if row is None:
            raise NotFound(f"no answer record {provenance_id!r}")
        return _stored(row)

    def records(self, limit: int | None = None) -> list[StoredRecord]:
        """The most recent ``limit`` records (all without a positive limit), newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM provenance ORDER BY seq DESC LIMIT ?", (limit if limit and limit > 0 else -1,)
            ).fetchall()
        return [_stored(r) for r in rows]

    def verify(self, anchor: str | None = None) -> ChainReport:
        """Walk the chain in ``seq`` order (:func:`walk`; the contract is :meth:`AuditLog.verify`)."""
        with self._lock:
            rows = self._db.execute("SELECT seq, id, record, prev_hash, hash FROM provenance ORDER BY seq")
            return walk(((r[0], r[1], r[2], r[3], r[4]) for r in rows), anchor)

    def add_feedback(self, provenance_id: str, user_id: str, rating: str, comment: str | None) -> None:
        """Store feedback on an answer. Raises NotFound for an unknown id, InvalidInput for a bad rating."""
        check_feedback(rating, comment)
        self.get(provenance_id)
        with self._write() as db:
            db.execute(
                "INSERT INTO feedback (provenance_id, user_id, rating, comment, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (provenance_id, user_id, rating, comment, datetime.now(UTC).isoformat(timespec="seconds")),
            )

    def feedback(self, provenance_id: str) -> list[dict[str, Any]]:
        """Feedback given on one answer, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT user_id, rating, comment, created_at FROM feedback WHERE provenance_id = ?"
                " ORDER BY seq",
                (provenance_id,),
            ).fetchall()
        return [dict(r) for r in rows]


def _stored(row: sqlite3.Row) -> StoredRecord:
    return StoredRecord(
        row["seq"],
        row["id"],
        row["created_at"],
        row["user_id"],
        json.loads(row["record"]),
        row["prev_hash"],
        row["hash"],
    )


WITHHELD = "[withheld: this answer was produced from documents you may not read]"


def redact(record: dict[str, Any], groups: frozenset[str]) -> tuple[dict[str, Any], bool]:
    """``record`` as a reader with ``groups`` may see it, and whether anything was withheld.

    Hits from documents the reader may not read are reduced to their rank; citations of them are dropped;
    the answer text, warnings, earlier assistant turns and an LLM-rewritten query are withheld entirely when
    any such document was among the sources (an LLM may have used it without citing it). The asker's own
    words (question, earlier questions) stay.
    """
    hits = record.get("hits") or []
    hidden = {h["doc_id"] for h in hits if groups.isdisjoint(h.get("acl") or [])}
    if not hidden:
        return record, False
    out = dict(record)
    out["hits"] = [{"rank": h["rank"], "withheld": True} if h["doc_id"] in hidden else h for h in hits]
    out["citations"] = [c for c in record.get("citations") or [] if c.get("doc_id") not in hidden]
    out["answer"] = WITHHELD
    out["unsupported"] = []
    out["warnings"] = []
    # Earlier answers in the history may quote the same documents; an LLM rewrite may carry their words.
    out["history"] = [
        {**turn, "content": WITHHELD} if turn.get("role") != "user" else turn
        for turn in record.get("history") or []
    ]
    if record.get("rewrite_method") == "llm":
        out["rewritten_query"] = WITHHELD
    return out, True
