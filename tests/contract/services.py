"""The two backends of the shared services (API keys, provenance, rate limits) for their contract tests.

A test gets one :class:`Backend`: an empty SQLite folder, or a fresh migrated PostgreSQL database on the
session's server (``pg_server``, started only when a PostgreSQL test runs). Each instance a test opens gets
its own connection (SQLite) or its own pool (PostgreSQL), as separate processes or hosts would.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any, Protocol, TypeVar

import psycopg
import pytest

from assistant.pg.db import Database

BACKENDS = ("sqlite", "postgres")


class _Closable(Protocol):
    def close(self) -> None: ...


Service = TypeVar("Service", bound=_Closable)


class Backend:
    """Where one test's services live, and an owner's raw access to it (to play the attacker)."""

    def __init__(self, name: str, folder: Path, url: str | None) -> None:
        self.name = name
        self.folder = folder
        self.url = url
        self._pools: list[Database] = []
        self._opened: list[_Closable] = []

    def open(self, sqlite: Callable[[Path], Service], postgres: Callable[[Database], Service]) -> Service:
        """A new instance of a service on this backend, as another process would open it: ``sqlite`` gets
        the folder of the SQLite files, ``postgres`` a new pool on the test's database. Closed with the
        backend."""
        if self.name == "sqlite":
            service = sqlite(self.folder)
        else:
            assert self.url is not None
            pool = Database(self.url, max_size=4)
            self._pools.append(pool)
            service = postgres(pool)
        self._opened.append(service)
        return service

    def sqlite_file(self, service: str) -> Path:
        """The SQLite file of one service (``keys``, ``audit``, ``ratelimit``)."""
        return self.folder / f"{service}.sqlite3"

    def raw(self, service: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run ``sql`` (``?`` placeholders) as the data's owner, bypassing the service; returns any rows."""
        if self.name == "sqlite":
            with closing(sqlite3.connect(self.sqlite_file(service), isolation_level=None)) as db:
                return db.execute(sql, params).fetchall()
        assert self.url is not None
        with psycopg.connect(self.url, autocommit=True) as conn:
            cursor = conn.execute(sql.replace("?", "%s").encode(), params)
            return cursor.fetchall() if cursor.description else []

    def close(self) -> None:
        for service in self._opened:
            service.close()
        for pool in self._pools:
            pool.close()


def run_together(workers: int, work: Callable[[int], None]) -> None:
    """Run ``work(0)`` … ``work(workers - 1)`` in threads that start at the same moment; re-raise the first
    error any of them had."""
    start = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            start.wait()
            work(n)
        except BaseException as err:  # re-raised below, not lost in the thread
            errors.append(err)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def open_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The body of each contract module's ``backend`` fixture (``params=BACKENDS``): one empty backend, a
    folder for SQLite files or a fresh migrated PostgreSQL database (dropped afterwards)."""
    if request.param == "sqlite":
        yield Backend("sqlite", tmp_path, None)
        return
    server = request.getfixturevalue("pg_server")
    url = server.fresh()
    made = Backend("postgres", tmp_path, url)
    try:
        yield made
    finally:
        made.close()
        server.drop(url)
