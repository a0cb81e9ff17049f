"""API keys: each key is shown once when created; only its sha256 is stored.

A key is ``eka_`` followed by 256 random bits, so an unsalted hash is safe to store (nothing to brute-force).
Keys carry the user, the groups whose documents the user may read and roles (what each allows:
``assistant/rights.py`` and docs/api.md#roles):

- ``ingest``: upload documents into the key's own groups, and replace or delete documents it may write;
- ``publish``: also write to ``public``, which every key reads;
- ``admin``: also replace or delete documents ingested from the command line;
- ``auditor``: read provenance records of other users' answers (redacted to the key's groups).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from assistant.errors import NotFound
from assistant.fsutil import open_sqlite
from assistant.types import PUBLIC_GROUP, Principal

ROLES = frozenset({"ingest", "publish", "admin", "auditor"})
PREFIX = "eka_"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key (without the secret)."""

    key_id: str
    user: str
    groups: tuple[str, ...]
    roles: tuple[str, ...]
    created_at: str
    revoked_at: str | None

    @property
    def principal(self) -> Principal:
        """Who this key acts as: its groups plus ``public``, which every signed-in user may read."""
        return Principal.of(self.user, [*(g.lower() for g in self.groups), PUBLIC_GROUP])


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyStore:
    """Creates, checks, lists and revokes API keys (``EKA_HOME/keys.sqlite3``).

    Example:
        >>> keys = KeyStore(Path(".eka/keys.sqlite3"))  # doctest: +SKIP
        >>> record, secret = keys.create("ann", ["battery"], ["ingest"])  # doctest: +SKIP
        >>> keys.authenticate(secret).user  # doctest: +SKIP
        'ann'
    """

    def __init__(self, path: Path) -> None:
        self._lock = threading.RLock()
        self._db = open_sqlite(path)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS keys (key_id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE,"
            " user TEXT NOT NULL, groups TEXT NOT NULL, roles TEXT NOT NULL, created_at TEXT NOT NULL,"
            " revoked_at TEXT)"
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def create(self, user: str, groups: list[str], roles: list[str] | None = None) -> tuple[ApiKey, str]:
        """A new key for ``user``; returns the record and the secret (shown once, never stored).

        Raises:
            ValueError: an empty user, or an unknown role.
        """
        user = user.strip()
        roles = sorted({r.strip() for r in roles or [] if r.strip()})
        groups = sorted({g.strip().lower() for g in groups if g.strip()})  # groups are case-insensitive
        if not user:
            raise ValueError("a key needs a user")
        unknown = set(roles) - ROLES
        if unknown:
            raise ValueError(
                f"unknown role(s) {', '.join(sorted(unknown))}; roles are {', '.join(sorted(ROLES))}"
            )
        secret = PREFIX + secrets.token_urlsafe(32)
        key_id = "key_" + secrets.token_hex(6)
        created = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock:
            self._db.execute(
                "INSERT INTO keys VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (key_id, _hash(secret), user, json.dumps(groups), json.dumps(roles), created),
            )
        return ApiKey(key_id, user, tuple(groups), tuple(roles), created, None), secret

    def authenticate(self, secret: str) -> ApiKey | None:
        """The active key with this secret, or None."""
        if not secret.startswith(PREFIX) or len(secret) > 200:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM keys WHERE hash = ? AND revoked_at IS NULL", (_hash(secret),)
            ).fetchone()
        return _key(row) if row else None

    def keys(self, include_revoked: bool = False) -> list[ApiKey]:
        """All keys, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM keys WHERE ? OR revoked_at IS NULL ORDER BY created_at, key_id",
                (include_revoked,),
            ).fetchall()
        return [_key(r) for r in rows]

    def revoke(self, key_id_or_user: str) -> list[str]:
        """Revoke one key by id, or every active key of a user; returns the revoked ids. Raises NotFound."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock:
            rows = self._db.execute(
                "SELECT key_id FROM keys WHERE (key_id = ? OR user = ?) AND revoked_at IS NULL",
                (key_id_or_user, key_id_or_user),
            ).fetchall()
            ids = [r[0] for r in rows]
            if not ids:
                raise NotFound(f"no active key with id or user {key_id_or_user!r}")
            self._db.executemany("UPDATE keys SET revoked_at = ? WHERE key_id = ?", [(now, i) for i in ids])
        return ids


def _key(row: sqlite3.Row) -> ApiKey:
    return ApiKey(
        row["key_id"],
        row["user"],
        tuple(json.loads(row["groups"])),
        tuple(json.loads(row["roles"])),
        row["created_at"],
        row["revoked_at"],
    )
