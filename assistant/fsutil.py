"""Crash-safe file writes: write to a temporary name, fsync, then ``os.replace`` into place."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """Flush a file's bytes to disk."""
    with path.open("rb+") as fh:
        os.fsync(fh.fileno())


def publish_dir(tmp: Path, final: Path) -> None:
    """Fsync every file in ``tmp`` and atomically rename it to ``final`` (which must not exist)."""
    for item in tmp.iterdir():
        fsync_file(item)
    fsync_dir(tmp)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    fsync_dir(final.parent)


def dir_digest(path: Path) -> str:
    """sha256 over the names and bytes of the files in a directory (sorted), to detect corruption."""
    digest = hashlib.sha256()
    for item in sorted(path.iterdir()):
        digest.update(item.name.encode())
        with item.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def open_sqlite(path: Path) -> sqlite3.Connection:
    """A SQLite connection as every eka database uses it: WAL, fully synced commits, foreign keys, waits for
    other writers, autocommit (callers open their own ``BEGIN IMMEDIATE`` transactions), usable from threads
    under the caller's lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=60)
    db.row_factory = sqlite3.Row
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=60000"):
        db.execute(f"PRAGMA {pragma}")
    return db


@contextmanager
def immediate(db: sqlite3.Connection, lock: AbstractContextManager[object]) -> Iterator[sqlite3.Connection]:
    """One ``BEGIN IMMEDIATE`` write transaction on a connection from :func:`open_sqlite`, under ``lock``:
    committed at the end, rolled back on any error (nothing half-written); it also serialises writers across
    processes."""
    with lock:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
