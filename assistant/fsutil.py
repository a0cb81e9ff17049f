"""Crash-safe file writes: write to a temporary name, fsync, then ``os.replace`` into place."""

from __future__ import annotations

import hashlib
import os
import shutil
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
