"""Connections to the PostgreSQL backend: one pool per process, pgvector's types registered on each.

Every connection works as the role ``eka_service`` when the login role may take it (``SET ROLE``), so
row-level security applies even when the login role is a superuser (a superuser would otherwise bypass it);
searches narrow that further to ``eka_reader`` and the caller's groups (assistant/pg/search.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from pgvector.psycopg import register_vector
from psycopg_pool import ConnectionPool

from assistant.errors import ConfigError

SERVICE_ROLE = "eka_service"
READER_ROLE = "eka_reader"
# How long a caller waits for a pooled connection before PoolTimeout (the API answers 503): long enough for
# a busy pool, short enough that a request fails quickly while the database is down.
POOL_WAIT_S = 5.0


def _configure(conn: psycopg.Connection) -> None:
    """Register pgvector's types and take the service role (when the schema has it)."""
    has_vector = conn.execute("SELECT 1 FROM pg_type WHERE typname = 'vector'").fetchone()
    if has_vector:
        register_vector(conn)
    role = conn.execute(
        "SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles WHERE rolname = %s", (SERVICE_ROLE,)
    ).fetchone()
    if role and role[0]:
        conn.execute(f"SET ROLE {SERVICE_ROLE}")
    conn.commit()


def connect(url: str) -> psycopg.Connection:
    """One configured connection (autocommit off), for scripts and migrations.

    Raises:
        ConfigError: the database cannot be reached.
    """
    try:
        conn = psycopg.connect(url, connect_timeout=10)
    except psycopg.OperationalError as err:
        raise ConfigError(f"cannot connect to EKA_DATABASE_URL: {err}") from err
    _configure(conn)
    return conn


class Database:
    """A connection pool for one database URL, shared by the backend's parts in one process.

    Example:
        >>> db = Database("postgresql://eka@db/eka")  # doctest: +SKIP
        >>> with db.connection() as conn:  # doctest: +SKIP
        ...     conn.execute("SELECT 1").fetchone()
        (1,)
    """

    def __init__(self, url: str, max_size: int = 8) -> None:
        self.url = url
        connect(url).close()  # fail fast, with the server's own message, before the pool retries
        try:
            self.pool = ConnectionPool(
                url,
                min_size=1,
                max_size=max_size,
                configure=_configure,
                # A connection is checked as it leaves the pool: after the server restarts, broken ones are
                # replaced instead of failing one request each.
                check=ConnectionPool.check_connection,
                kwargs={"connect_timeout": 10},
                timeout=POOL_WAIT_S,
                open=False,
            )
            self.pool.open(wait=True, timeout=15)
        except Exception as err:  # psycopg_pool raises PoolTimeout wrapping the connection error
            raise ConfigError(f"cannot connect to EKA_DATABASE_URL: {err}") from err
        self._closed = False
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection; the transaction commits when the block ends and rolls back on an error."""
        with self.pool.connection() as conn:
            yield conn

    def ping(self, timeout: float = 2.0) -> None:
        """Run a trivial query, waiting at most about ``timeout`` seconds for a connection.

        Raises:
            psycopg.OperationalError: the server cannot be reached.
            psycopg_pool.PoolTimeout: no working connection came in time.
        """
        with self.pool.connection(timeout=timeout) as conn:
            conn.execute("SELECT 1").fetchone()

    def close(self) -> None:
        """Close the pool (idempotent)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self.pool.close()


_shared: dict[str, Database] = {}
_shared_lock = threading.Lock()


def shared(url: str) -> Database:
    """The process's pool for ``url`` (the store, keys, audit log and rate limiter share it)."""
    with _shared_lock:
        db = _shared.get(url)
        if db is None or db._closed:
            db = _shared[url] = Database(url)
        return db


def forget(url: str) -> None:
    """Close and forget the process's pool for ``url`` (before its database is dropped, in tests)."""
    with _shared_lock:
        db = _shared.pop(url, None)
    if db is not None:
        db.close()
