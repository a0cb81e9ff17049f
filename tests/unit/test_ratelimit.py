"""The rate limiter's buckets are shared by every limiter on one file (one per API worker process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.errors import RateLimited
from assistant.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_two_limiters_on_one_file_share_each_keys_bucket(tmp_path: Path) -> None:
    clock = Clock()
    first, second = (RateLimiter(tmp_path / "rl.sqlite3", 4, clock) for _ in range(2))
    for limiter in (first, second, first, second):
        limiter.take("key_a")
    with pytest.raises(RateLimited) as refused:
        second.take("key_a")
    assert refused.value.retry_after == pytest.approx(15.0)  # 4 a minute: one token every 15 s
    first.take("key_b")  # another key has its own bucket
    clock.now += 15.0
    first.take("key_a")
    with pytest.raises(RateLimited):
        second.take("key_a")


def test_a_bucket_refills_to_its_capacity_and_no_further(tmp_path: Path) -> None:
    clock = Clock()
    limiter = RateLimiter(tmp_path / "rl.sqlite3", 2, clock)
    limiter.take("k")
    clock.now += 3600.0
    limiter.take("k")
    limiter.take("k")
    with pytest.raises(RateLimited):
        limiter.take("k")
