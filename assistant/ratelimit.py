"""Per-key rate limits that hold across every API process: a token bucket per key, kept where they all see it.

``eka serve --workers N`` runs N processes (and with PostgreSQL, on several hosts); a bucket in process
memory would let each key make N times its limit. The buckets live in the backend instead:
``EKA_HOME/ratelimit.sqlite3`` (:class:`SQLiteRateLimiter`, one ``BEGIN IMMEDIATE`` transaction per request,
about a millisecond) or a PostgreSQL table (:class:`assistant.pg.ratelimit.PgRateLimiter`, one statement
per request). Losing the buckets loses nothing but their levels: they are refilled within a minute anyway.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from assistant.errors import RateLimited
from assistant.fsutil import immediate

MESSAGE = "rate limit exceeded for this API key"


class RateLimiter(Protocol):
    """The rate-limit seam: a token bucket per API key, shared by every process that shares the backend.

    What every backend keeps: a key's bucket holds ``per_minute`` tokens when full, refills continuously at
    ``per_minute / 60`` tokens a second up to that, and each :meth:`take` spends one. Taking from an empty
    bucket spends nothing and raises :class:`RateLimited` with the seconds until a token is back. Each take
    is atomic, so concurrent requests through any number of instances never spend a token twice.

    Backends: :class:`SQLiteRateLimiter` and :class:`assistant.pg.ratelimit.PgRateLimiter`;
    :func:`assistant.services.open_limiter` picks one from the settings.
    ``tests/contract/test_ratelimit_contract.py`` holds both to this contract.

    Example:
        >>> limiter = open_limiter(Settings())  # doctest: +SKIP
        >>> limiter.take("key_0123")  # doctest: +SKIP
    """

    def take(self, key: str) -> None:
        """Spend one token of ``key``.

        Raises:
            RateLimited: none is left; ``retry_after`` is the seconds until one is.
        """
        ...

    def close(self) -> None:
        """Release what this instance holds (idempotent)."""
        ...


def refused(tokens: float, per_minute: int) -> RateLimited:
    """The error for a bucket holding ``tokens`` (fewer than one)."""
    return RateLimited(MESSAGE, (1.0 - tokens) / (per_minute / 60.0))


class SQLiteRateLimiter:
    """Token buckets in one SQLite file (``path``), shared by the host's processes.

    Wall-clock time is used (``clock``), since the processes share no monotonic clock; a clock step back only
    delays a refill. The file is written with ``synchronous=OFF``: a crash may lose the latest levels.

    Example:
        >>> limiter = SQLiteRateLimiter(Path(".eka/ratelimit.sqlite3"), per_minute=120)  # doctest: +SKIP
        >>> limiter.take("key_0123")  # doctest: +SKIP
    """

    def __init__(self, path: Path, per_minute: int, clock: Callable[[], float] = time.time) -> None:
        self.per_minute = per_minute
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._clock = clock
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS buckets"
            " (key TEXT PRIMARY KEY, tokens REAL NOT NULL, at REAL NOT NULL)"
        )

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    def take(self, key: str) -> None:
        """Spend one token of ``key``; raises RateLimited (with the seconds to wait) when none is left."""
        with immediate(self._db, self._lock) as db:
            now = self._clock()
            row = db.execute("SELECT tokens, at FROM buckets WHERE key = ?", (key,)).fetchone()
            tokens, at = row if row else (self.capacity, now)
            tokens = min(self.capacity, tokens + max(0.0, now - at) * self.rate)
            spent = tokens >= 1.0
            db.execute(
                "INSERT OR REPLACE INTO buckets VALUES (?, ?, ?)",
                (key, tokens - 1.0 if spent else tokens, now),
            )
        if not spent:
            raise refused(tokens, self.per_minute)
