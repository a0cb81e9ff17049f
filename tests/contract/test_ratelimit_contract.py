"""The ``RateLimiter`` contract (assistant/ratelimit.py): the SQLite and PostgreSQL limiters pass the same
tests; every limiter on one backend (one per API worker, on any host) shares each key's bucket."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assistant.errors import RateLimited
from assistant.pg.ratelimit import PgRateLimiter
from assistant.ratelimit import MESSAGE, RateLimiter, SQLiteRateLimiter
from tests.contract.services import BACKENDS, Backend, open_backend, run_together


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


Opener = Callable[..., RateLimiter]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    yield from open_backend(request, tmp_path)


@pytest.fixture
def open_limiter(backend: Backend) -> Opener:
    """Opens limiters on the test's backend, each as another worker would.

    Without a clock, a limiter uses its backend's own (the host's for SQLite, the server's for PostgreSQL).
    """

    def open_(per_minute: int, clock: Callable[[], float] | None = None) -> RateLimiter:
        def sqlite(folder: Path) -> RateLimiter:
            file = folder / "ratelimit.sqlite3"
            return (
                SQLiteRateLimiter(file, per_minute, clock) if clock else SQLiteRateLimiter(file, per_minute)
            )

        return backend.open(sqlite, lambda db: PgRateLimiter(db, per_minute, clock))

    return open_


def test_two_limiters_share_each_keys_bucket(open_limiter: Opener) -> None:
    clock = Clock()
    first, second = open_limiter(4, clock), open_limiter(4, clock)
    for limiter in (first, second, first, second):
        limiter.take("key_a")
    with pytest.raises(RateLimited, match=MESSAGE) as refused:
        second.take("key_a")
    assert refused.value.retry_after == pytest.approx(15.0)  # 4 a minute: one token every 15 s
    first.take("key_b")  # another key has its own bucket
    clock.now += 15.0
    first.take("key_a")
    with pytest.raises(RateLimited):
        second.take("key_a")


def test_the_wait_shrinks_as_the_bucket_refills(open_limiter: Opener) -> None:
    clock = Clock()
    limiter = open_limiter(6, clock)  # one token every 10 s
    for _ in range(6):
        limiter.take("k")
    clock.now += 4.0
    with pytest.raises(RateLimited) as refused:
        limiter.take("k")
    assert refused.value.retry_after == pytest.approx(6.0)
    clock.now += 6.0
    limiter.take("k")  # a refused take spent nothing


def test_a_bucket_refills_to_its_capacity_and_no_further(open_limiter: Opener) -> None:
    clock = Clock()
    limiter = open_limiter(2, clock)
    limiter.take("k")
    clock.now += 3600.0
    limiter.take("k")
    limiter.take("k")
    with pytest.raises(RateLimited):
        limiter.take("k")


def test_a_clock_step_back_refills_nothing(open_limiter: Opener) -> None:
    clock = Clock()
    limiter = open_limiter(1, clock)
    limiter.take("k")
    clock.now -= 300.0
    with pytest.raises(RateLimited) as refused:
        limiter.take("k")
    assert refused.value.retry_after == pytest.approx(60.0)


def test_the_backends_own_clock_limits_too(open_limiter: Opener) -> None:
    first, second = open_limiter(1), open_limiter(1)
    first.take("key_a")
    with pytest.raises(RateLimited) as refused:
        second.take("key_a")
    assert 55.0 < refused.value.retry_after <= 60.0


def test_concurrent_takes_through_many_limiters_spend_each_token_once(open_limiter: Opener) -> None:
    clock = Clock()  # frozen: nothing refills during the test
    workers, attempts, per_minute = 6, 10, 25
    limiters = [open_limiter(per_minute, clock) for _ in range(workers)]
    granted: list[int] = [0] * workers

    def work(n: int) -> None:
        for _ in range(attempts):
            try:
                limiters[n].take("key_shared")
                granted[n] += 1
            except RateLimited:
                pass

    run_together(workers, work)
    assert sum(granted) == per_minute
