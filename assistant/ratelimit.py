"""Per-key rate limits that hold across every process of one host: token buckets in SQLite.

``eka serve --workers N`` runs N processes; a bucket in process memory would let each key make N times its
limit. The buckets live in ``EKA_HOME/ratelimit.sqlite3`` instead, updated in one ``BEGIN IMMEDIATE``
transaction per request (about a millisecond). Wall-clock time is used, since the processes share no
monotonic clock; a clock step back only delays a refill. Losing the file loses nothing but the buckets'
levels (``synchronous=OFF``: they are refilled within a minute anyway).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from assistant.errors import RateLimited
from assistant.fsutil import immediate


class RateLimiter:
    """A token bucket per API key: ``per_minute`` requests, refilled continuously, shared through ``path``.

    Example:
        >>> limiter = RateLimiter(Path(".eka/ratelimit.sqlite3"), per_minute=120)  # doctest: +SKIP
        >>> limiter.take("key_0123")  # doctest: +SKIP
    """

    def __init__(self, path: Path, per_minute: int, clock: Callable[[], float] = time.time) -> None:
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
            raise RateLimited("rate limit exceeded for this API key", (1.0 - tokens) / self.rate)
