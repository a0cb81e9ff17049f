"""API keys in PostgreSQL (table ``api_keys``, migration 0002): every API worker on every host shares them.

Nothing is cached: :meth:`PgKeyStore.authenticate` reads the table on every request (one primary-key lookup
on the hash), so a revoked key is refused by every process as soon as the revoke commits.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from assistant.errors import NotFound
from assistant.keys import ApiKey, hash_secret, may_be_key, new_key
from assistant.pg.db import Database


class PgKeyStore:
    """The :class:`assistant.keys.KeyStore` on PostgreSQL.

    Example:
        >>> keys = PgKeyStore(shared("postgresql://eka@db/eka"))  # doctest: +SKIP
        >>> record, secret = keys.create("ann", ["battery"], ["ingest"])  # doctest: +SKIP
        >>> keys.authenticate(secret).user  # doctest: +SKIP
        'ann'
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    def close(self) -> None:
        """Nothing to release: the pool is the process's (:func:`assistant.pg.db.shared`)."""

    def create(self, user: str, groups: list[str], roles: list[str] | None = None) -> tuple[ApiKey, str]:
        """A new key for ``user``; returns the record and the secret. Raises ValueError (:func:`new_key`)."""
        record, secret = new_key(user, groups, roles)
        with self._db.connection() as conn:
            conn.execute(
                "INSERT INTO api_keys (key_id, hash, user_id, groups, roles, created_at)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    record.key_id,
                    hash_secret(secret),
                    record.user,
                    list(record.groups),
                    list(record.roles),
                    datetime.fromisoformat(record.created_at),
                ),
            )
        return record, secret

    def authenticate(self, secret: str) -> ApiKey | None:
        """The active key with this secret, or None (read from the table every time)."""
        if not may_be_key(secret):
            return None
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT key_id, user_id, groups, roles, created_at, revoked_at FROM api_keys"
                " WHERE hash = %s AND revoked_at IS NULL",
                (hash_secret(secret),),
            ).fetchone()
        return _key(row) if row else None

    def keys(self, include_revoked: bool = False) -> list[ApiKey]:
        """All keys, oldest first."""
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT key_id, user_id, groups, roles, created_at, revoked_at FROM api_keys"
                " WHERE %s OR revoked_at IS NULL ORDER BY created_at, key_id",
                (include_revoked,),
            ).fetchall()
        return [_key(r) for r in rows]

    def revoke(self, key_id_or_user: str) -> list[str]:
        """Revoke one key by id, or every active key of a user; returns the revoked ids. Raises NotFound."""
        ids: list[str] = []
        if "\x00" not in key_id_or_user:  # PostgreSQL text cannot hold NUL: no key has it
            with self._db.connection() as conn:
                rows = conn.execute(
                    "UPDATE api_keys SET revoked_at = date_trunc('second', now())"
                    " WHERE (key_id = %s OR user_id = %s) AND revoked_at IS NULL RETURNING key_id",
                    (key_id_or_user, key_id_or_user),
                ).fetchall()
            ids = sorted(r[0] for r in rows)
        if not ids:
            raise NotFound(f"no active key with id or user {key_id_or_user!r}")
        return ids


def _when(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value is not None else None


def _key(row: tuple[Any, ...]) -> ApiKey:
    key_id, user, groups, roles, created_at, revoked_at = row
    return ApiKey(key_id, user, tuple(groups), tuple(roles), _when(created_at) or "", _when(revoked_at))
