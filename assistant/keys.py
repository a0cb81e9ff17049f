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
from typing import Protocol

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


def hash_secret(secret: str) -> str:
    """What a backend stores for a key: the sha256 (hex) of its secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def may_be_key(secret: str) -> bool:
    """Whether ``secret`` is shaped like a key at all (backends skip the lookup otherwise)."""
    return secret.startswith(PREFIX) and len(secret) <= 200


def new_key(user: str, groups: list[str], roles: list[str] | None = None) -> tuple[ApiKey, str]:
    """A new, checked key record and its secret, for a backend to store (with :func:`hash_secret`).

    The user is stripped; groups are lower-cased (groups are case-insensitive), deduplicated and sorted, and
    so are roles.

    Raises:
        ValueError: an empty user, an unknown role, or a NUL character in the user or a group.
    """
    user = user.strip()
    roles = sorted({r.strip() for r in roles or [] if r.strip()})
    groups = sorted({g.strip().lower() for g in groups if g.strip()})
    if not user:
        raise ValueError("a key needs a user")
    if "\x00" in user or any("\x00" in g for g in groups):
        raise ValueError("a key's user and groups must not contain NUL characters")
    unknown = set(roles) - ROLES
    if unknown:
        known = ", ".join(sorted(ROLES))
        raise ValueError(f"unknown role(s) {', '.join(sorted(unknown))}; roles are {known}")
    secret = PREFIX + secrets.token_urlsafe(32)
    key_id = "key_" + secrets.token_hex(6)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    return ApiKey(key_id, user, tuple(groups), tuple(roles), created, None), secret


class KeyStore(Protocol):
    """The API key seam: creates, checks, lists and revokes keys; stores only each secret's hash.

    What every backend keeps:

    - **Secrets.** :meth:`create` returns the secret once; only :func:`hash_secret` of it is stored.
    - **Revocation is immediate.** Once :meth:`revoke` returns, :meth:`authenticate` refuses the key in every
      process and on every host that shares the backend (no cache outlives a revoke).
    - **Values.** Records are made by :func:`new_key` (checked, groups lower-cased); ``keys`` lists them
      oldest first; timestamps are UTC ISO 8601 to the second.

    Backends: :class:`SQLiteKeyStore` (``EKA_HOME/keys.sqlite3``) and
    :class:`assistant.pg.keys.PgKeyStore`; :func:`assistant.services.open_keys` picks one from the settings.
    ``tests/contract/test_keys_contract.py`` holds both to this contract.

    Example:
        >>> keys = open_keys(Settings())  # doctest: +SKIP
        >>> record, secret = keys.create("ann", ["battery"], ["ingest"])  # doctest: +SKIP
        >>> keys.authenticate(secret).user  # doctest: +SKIP
        'ann'
    """

    def create(self, user: str, groups: list[str], roles: list[str] | None = None) -> tuple[ApiKey, str]:
        """A new key for ``user``; returns the record and the secret (shown once, never stored).

        Raises:
            ValueError: an empty user, an unknown role, or a NUL character (:func:`new_key`).
        """
        ...

    def authenticate(self, secret: str) -> ApiKey | None:
        """The active (unrevoked) key with this secret, or None for anything else, however malformed."""
        ...

    def keys(self, include_revoked: bool = False) -> list[ApiKey]:
        """All active keys (and the revoked ones too with ``include_revoked``), oldest first."""
        ...

    def revoke(self, key_id_or_user: str) -> list[str]:
        """Revoke one key by id, or every active key of a user; returns the revoked ids, sorted.

        Raises:
            NotFound: no active key has that id or user.
        """
        ...

    def close(self) -> None:
        """Release what this instance holds (idempotent)."""
        ...


class SQLiteKeyStore:
    """The embedded key store: one SQLite file (``EKA_HOME/keys.sqlite3``) shared by the host's processes.

    Example:
        >>> keys = SQLiteKeyStore(Path(".eka/keys.sqlite3"))  # doctest: +SKIP
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
        """Close the file."""
        with self._lock:
            self._db.close()

    def create(self, user: str, groups: list[str], roles: list[str] | None = None) -> tuple[ApiKey, str]:
        """A new key for ``user``; returns the record and the secret. Raises ValueError (:func:`new_key`)."""
        record, secret = new_key(user, groups, roles)
        with self._lock:
            self._db.execute(
                "INSERT INTO keys VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (
                    record.key_id,
                    hash_secret(secret),
                    record.user,
                    json.dumps(record.groups),
                    json.dumps(record.roles),
                    record.created_at,
                ),
            )
        return record, secret

    def authenticate(self, secret: str) -> ApiKey | None:
        """The active key with this secret, or None."""
        if not may_be_key(secret):
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM keys WHERE hash = ? AND revoked_at IS NULL", (hash_secret(secret),)
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
            ids = sorted(r[0] for r in rows)
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
