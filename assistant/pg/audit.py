"""The provenance log and feedback in PostgreSQL (tables ``provenance``, ``provenance_head``, ``feedback``,
migration 0002), shared by every API worker on every host.

Appends are serialised by locking the chain's head row (``SELECT ... FOR UPDATE``): a writer reads the last
record's seq and hash, inserts the next record and moves the head, all in one transaction, while every other
writer waits for the row. So the chain stays one unbroken line however many processes append at once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import psycopg

from assistant.audit import ChainReport, StoredRecord, chain_hash, check_feedback, new_record, walk
from assistant.errors import NotFound
from assistant.pg.db import Database


class PgAuditLog:
    """The :class:`assistant.audit.AuditLog` on PostgreSQL.

    Example:
        >>> log = PgAuditLog(shared("postgresql://eka@db/eka"))  # doctest: +SKIP
        >>> pid = log.append("ann", {"question": "pad wear?"})  # doctest: +SKIP
        >>> log.verify().ok  # doctest: +SKIP
        True
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    def close(self) -> None:
        """Nothing to release: the pool is the process's (:func:`assistant.pg.db.shared`)."""

    def append(self, user_id: str, record: dict[str, Any]) -> str:
        """Append ``record`` (JSON-serialisable) and return its new provenance id."""
        provenance_id, created_at, text = new_record(user_id, record)
        with self._db.connection() as conn:
            head = conn.execute("SELECT seq, hash FROM provenance_head FOR UPDATE").fetchone()
            if head is None:
                raise RuntimeError("the provenance head row is missing (migration 0002)")
            seq, prev = head[0] + 1, head[1]
            digest = chain_hash(prev, text)
            conn.execute(
                "INSERT INTO provenance (seq, id, created_at, user_id, record, prev_hash, hash)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (seq, provenance_id, datetime.fromisoformat(created_at), user_id, text, prev, digest),
            )
            conn.execute("UPDATE provenance_head SET seq = %s, hash = %s", (seq, digest))
        return provenance_id

    def get(self, provenance_id: str) -> StoredRecord:
        """One record. Raises NotFound."""
        row = None
        if "\x00" not in provenance_id:  # PostgreSQL text cannot hold NUL: no record has it
            with self._db.connection() as conn:
                row = conn.execute(
                    "SELECT seq, id, created_at, user_id, record, prev_hash, hash FROM provenance"
                    " WHERE id = %s",
                    (provenance_id,),
                ).fetchone()
        if row is None:
            raise NotFound(f"no answer record {provenance_id!r}")
        return _stored(row)

    def records(self, limit: int | None = None) -> list[StoredRecord]:
        """The most recent ``limit`` records (all without a positive limit), newest first."""
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT seq, id, created_at, user_id, record, prev_hash, hash FROM provenance"
                " ORDER BY seq DESC LIMIT %s",
                (limit if limit and limit > 0 else None,),
            ).fetchall()
        return [_stored(r) for r in rows]

    def verify(self, anchor: str | None = None) -> ChainReport:
        """Walk the chain in ``seq`` order (:func:`assistant.audit.walk`), streamed from the server."""
        with self._db.connection() as conn, conn.cursor(name="eka_verify") as cursor:
            cursor.itersize = 2000
            cursor.execute("SELECT seq, id, record, prev_hash, hash FROM provenance ORDER BY seq")
            return walk(((r[0], r[1], r[2], r[3], r[4]) for r in cursor), anchor)

    def add_feedback(self, provenance_id: str, user_id: str, rating: str, comment: str | None) -> None:
        """Store feedback on an answer. Raises NotFound for an unknown id, InvalidInput for a bad rating."""
        check_feedback(rating, comment)
        if "\x00" in provenance_id:
            raise NotFound(f"no answer record {provenance_id!r}")
        try:
            with self._db.connection() as conn:
                conn.execute(
                    "INSERT INTO feedback (provenance_id, user_id, rating, comment, created_at)"
                    " VALUES (%s, %s, %s, %s, date_trunc('second', now()))",
                    (provenance_id, user_id, rating, comment),
                )
        except psycopg.errors.ForeignKeyViolation as err:
            raise NotFound(f"no answer record {provenance_id!r}") from err

    def feedback(self, provenance_id: str) -> list[dict[str, Any]]:
        """Feedback given on one answer, oldest first."""
        if "\x00" in provenance_id:
            return []
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT user_id, rating, comment, created_at FROM feedback WHERE provenance_id = %s"
                " ORDER BY seq",
                (provenance_id,),
            ).fetchall()
        return [
            {"user_id": u, "rating": r, "comment": c, "created_at": _when(t, "seconds")}
            for u, r, c, t in rows
        ]


def _when(value: datetime, timespec: str) -> str:
    return value.astimezone(UTC).isoformat(timespec=timespec)


def _stored(row: tuple[Any, ...]) -> StoredRecord:
    seq, provenance_id, created_at, user_id, text, prev_hash, digest = row
    return StoredRecord(
        seq, provenance_id, _when(created_at, "milliseconds"), user_id, json.loads(text), prev_hash, digest
    )
