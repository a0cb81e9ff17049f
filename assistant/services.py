"""The composition of the shared services: API keys, the provenance log and rate limits, from ``Settings``.

Each backend's implementation is picked the same way as the store's (:func:`assistant.app.open_store`):
the embedded SQLite files under ``settings.home`` unless ``settings.database_url`` names a PostgreSQL
database, whose schema must then be current (``eka db upgrade``). The API, the CLI and the demo all open them
here.
"""

from __future__ import annotations

import threading

from assistant.audit import AuditLog, SQLiteAuditLog
from assistant.config import Settings
from assistant.keys import KeyStore, SQLiteKeyStore
from assistant.originals import FileOriginals, Originals
from assistant.pg import db, migrate
from assistant.pg.audit import PgAuditLog
from assistant.pg.db import Database
from assistant.pg.keys import PgKeyStore
from assistant.pg.originals import PgOriginals
from assistant.pg.ratelimit import PgRateLimiter
from assistant.ratelimit import RateLimiter, SQLiteRateLimiter

_checked: set[str] = set()
_checked_lock = threading.Lock()


def _database(url: str) -> Database:
    """The process's pool for ``url``, after checking once per process that its schema is this version's.

    Raises:
        ConfigError: the database cannot be reached, or its schema is behind (or ahead of) this version.
    """
    database = db.shared(url)
    with _checked_lock:
        if url not in _checked:
            with database.connection() as conn:
                migrate.check(conn)
            _checked.add(url)
    return database


def open_keys(settings: Settings) -> KeyStore:
    """The API key store the settings select.

    Raises:
        ConfigError: ``database_url`` is set and the database is unreachable or not migrated.

    Example:
        >>> keys = open_keys(Settings(home=Path("/tmp/eka")))  # doctest: +SKIP
        >>> record, secret = keys.create("ann", ["battery"])  # doctest: +SKIP
    """
    if settings.database_url is not None:
        return PgKeyStore(_database(settings.database_url))
    return SQLiteKeyStore(settings.home / "keys.sqlite3")


def open_audit(settings: Settings) -> AuditLog:
    """The provenance log the settings select.

    Raises:
        ConfigError: ``database_url`` is set and the database is unreachable or not migrated.

    Example:
        >>> open_audit(Settings(home=Path("/tmp/eka"))).verify().ok  # doctest: +SKIP
        True
    """
    if settings.database_url is not None:
        return PgAuditLog(_database(settings.database_url))
    return SQLiteAuditLog(settings.home / "audit.sqlite3")


def open_limiter(settings: Settings) -> RateLimiter:
    """The rate limiter the settings select, at ``settings.rate_limit_per_minute`` requests per key.

    Raises:
        ConfigError: ``database_url`` is set and the database is unreachable or not migrated.

    Example:
        >>> open_limiter(Settings(home=Path("/tmp/eka"))).take("key_0123")  # doctest: +SKIP
    """
    if settings.database_url is not None:
        return PgRateLimiter(_database(settings.database_url), settings.rate_limit_per_minute)
    return SQLiteRateLimiter(settings.home / "ratelimit.sqlite3", settings.rate_limit_per_minute)


def open_originals(settings: Settings) -> Originals:
    """Where uploaded originals are kept (for page images): files under ``home`` or, with ``database_url``,
    the database, so every API host can render them.

    Example:
        >>> open_originals(Settings(home=Path("/tmp/eka"))).read(stored)  # doctest: +SKIP
    """
    if settings.database_url is not None:
        return PgOriginals(_database(settings.database_url), settings.home)
    return FileOriginals(settings.home)
