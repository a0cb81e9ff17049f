"""Rate limits in PostgreSQL (table ``rate_buckets``, migration 0002): one token bucket per API key that
holds across every worker on every host.

Each take is one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` statement: PostgreSQL locks the key's
row for the update, so concurrent takes queue on it and none spends a token twice. Time is the database
server's clock by default (hosts whose clocks disagree still share one refill rate).
"""

from __future__ import annotations

from collections.abc import Callable

from assistant.pg.db import Database
from assistant.ratelimit import refused

# The level is refilled for the time since the last take (never negative), capped at the capacity; a take
# spends one token when that leaves at least one. ``now`` is the caller's clock or the server's (_NOW).
_TAKE = """
INSERT INTO rate_buckets AS b (key, tokens, at, granted)
VALUES (%(key)s, %(capacity)s - 1, %(now)s, true)
ON CONFLICT (key) DO UPDATE SET
    tokens = CASE
        WHEN least(%(capacity)s, b.tokens + greatest(0, %(now)s - b.at) * %(rate)s) >= 1
        THEN least(%(capacity)s, b.tokens + greatest(0, %(now)s - b.at) * %(rate)s) - 1
        ELSE least(%(capacity)s, b.tokens + greatest(0, %(now)s - b.at) * %(rate)s)
    END,
    at = %(now)s,
    granted = least(%(capacity)s, b.tokens + greatest(0, %(now)s - b.at) * %(rate)s) >= 1
RETURNING tokens, granted
"""
_NOW = "extract(epoch FROM statement_timestamp())::double precision"  # one instant per statement


class PgRateLimiter:
    """The :class:`assistant.ratelimit.RateLimiter` on PostgreSQL.

    ``clock`` (seconds since the epoch) replaces the database server's clock, for tests.

    Example:
        >>> limiter = PgRateLimiter(shared("postgresql://eka@db/eka"), per_minute=120)  # doctest: +SKIP
        >>> limiter.take("key_0123")  # doctest: +SKIP
    """

    def __init__(self, db: Database, per_minute: int, clock: Callable[[], float] | None = None) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self._db = db
        self.per_minute = per_minute
        self._clock = clock

    def close(self) -> None:
        """Nothing to release: the pool is the process's (:func:`assistant.pg.db.shared`)."""

    def take(self, key: str) -> None:
        """Spend one token of ``key``; raises RateLimited (with the seconds to wait) when none is left."""
        params = {
            "key": key,
            "capacity": float(self.per_minute),
            "rate": self.per_minute / 60.0,
            "now": self._clock() if self._clock is not None else None,
        }
        sql = _TAKE if self._clock is not None else _TAKE.replace("%(now)s", _NOW)
        with self._db.connection() as conn:
            row = conn.execute(sql, params).fetchone()
        assert row is not None  # an upsert with RETURNING returns its row
        tokens, granted = row
        if not granted:
            raise refused(tokens, self.per_minute)
