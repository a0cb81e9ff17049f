"""Versioned schema migrations for the PostgreSQL backend: ``eka db upgrade`` applies them, start-up
checks them.

Migrations are the files ``migrations/NNNN_name.sql``, applied in order, each in its own transaction, under an
advisory lock (two processes upgrading at once apply each migration once). ``schema_migrations`` records
which were applied and the sha256 of each file, so an edited migration is reported instead of silently
diverging. A migration is never edited after release: a change is a new file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

import psycopg

from assistant.errors import ConfigError

LOCK_KEY = 0x656B61  # pg_advisory_xact_lock key for migrations ("eka")


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema migration file."""

    version: int
    name: str
    sql: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def migrations() -> list[Migration]:
    """Every migration shipped with this version, in order."""
    found = []
    for entry in resources.files("assistant.pg").joinpath("migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append(Migration(int(name[:4]), name[5:-4], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if len({m.version for m in found}) != len(found):
        raise RuntimeError("two migrations share a version number")
    return found


def _applied(conn: psycopg.Connection) -> dict[int, str]:
    exists = conn.execute("SELECT to_regclass('public.schema_migrations')").fetchone()
    if not exists or exists[0] is None:
        return {}
    return {v: h for v, h in conn.execute("SELECT version, sha256 FROM schema_migrations")}


def status(conn: psycopg.Connection) -> tuple[list[Migration], list[str]]:
    """Pending migrations, and problems (an applied migration that differs from the shipped file, or one
    this version does not know: the database is newer than the code)."""
    applied = _applied(conn)
    conn.rollback()
    known = {m.version: m for m in migrations()}
    problems = [
        f"migration {v:04d} differs from the one applied"
        for v, h in applied.items()
        if v in known and known[v].sha256 != h
    ]
    problems += [f"migration {v:04d} is newer than this version of eka" for v in applied if v not in known]
    return [m for m in known.values() if m.version not in applied], problems


def upgrade(conn: psycopg.Connection) -> list[Migration]:
    """Apply the pending migrations, in order; returns those applied (empty when up to date).

    Raises:
        ConfigError: the database's schema is newer than this code, or an applied migration was edited.
    """
    done: list[Migration] = []
    for migration in migrations():
        with conn.transaction():
            # As the login role, not eka_service (db.connect takes it whenever the cluster has the role, e.g.
            # from another database): migrations create and alter what the service may not.
            conn.execute("SET LOCAL ROLE NONE")
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY,"
                " name text NOT NULL, sha256 text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            if migration.version in _applied(conn):
                continue
            conn.execute(migration.sql.encode("utf-8"))
            conn.execute(
                "INSERT INTO schema_migrations (version, name, sha256) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.sha256),
            )
            done.append(migration)
    _pending, problems = status(conn)
    if problems:
        raise ConfigError("; ".join(problems))
    return done


def check(conn: psycopg.Connection) -> None:
    """Refuse to run against a schema that is not exactly this version's (checked at start-up).

    Raises:
        ConfigError: migrations are pending (run ``eka db upgrade``) or the schema is newer or edited.
    """
    pending, problems = status(conn)
    if pending:
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in pending)
        raise ConfigError(
            f"the database schema is behind this version of eka ({names}): run `eka db upgrade`"
        )
    if problems:
        raise ConfigError("; ".join(problems))
