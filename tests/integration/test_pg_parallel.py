"""The PostgreSQL view's hybrid search runs its lexical half on a second pooled connection (PgView.hybrid):
that connection reads as the same reader, in the same snapshot; a pool with no free connection makes the view
do both halves itself, with the same results (real PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.pg.db import READER_ROLE, Database
from assistant.pg.search import PgSearcher, PgSearchParams, PgView
from tests.contract.test_searcher_contract import DIM, MODEL, _embed, _load, _passages, _postgres, _vector

QUERY = "caliper torque wear"


def test_the_lexical_half_runs_on_another_connection_as_the_same_reader(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = _postgres(tmp_path, request, exact_rows=0)
    _load(backend.store)
    searcher = backend.searcher
    assert isinstance(searcher, PgSearcher)
    seen: list[tuple[Any, ...]] = []
    twin = PgView.twin

    def spying(view: PgView, conn: Any) -> PgView:
        row = conn.execute(
            "SELECT pg_backend_pid(), current_user, current_setting('eka.groups'),"
            " current_setting('transaction_isolation'), current_setting('transaction_read_only')"
        ).fetchone()
        seen.append(row)
        return twin(view, conn)

    monkeypatch.setattr(PgView, "twin", spying)
    with searcher.view(frozenset({"brakes", "body"}), {}) as view:
        main = view._conn.execute("SELECT pg_backend_pid()").fetchone()
        dense, lexical = view.hybrid(QUERY, lambda: _vector(QUERY), 5)
        assert lexical[0].tolist() == view.lexical(QUERY, 5)[0].tolist()
        assert dense[0].tolist() == view.dense(_vector(QUERY), 5)[0].tolist()
    assert main is not None and len(seen) == 1
    pid, user, groups, isolation, read_only = seen[0]
    assert pid != main[0]
    assert (user, groups, isolation, read_only) == (READER_ROLE, "{body,brakes}", "repeatable read", "on")
    readable = set(_passages(backend.store, {"brakes", "body"}))
    assert set(lexical[0].tolist()) <= readable and len(lexical[0]) == 5


def test_with_no_free_connection_the_view_does_both_halves_itself(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pool of one connection: the view holds it, the second connection never comes, and the results are
    those of the sequential search."""
    backend = _postgres(tmp_path, request, exact_rows=0)
    _load(backend.store)
    assert isinstance(backend.searcher, PgSearcher)
    one = Database(backend.searcher.db.url, max_size=1)
    request.addfinalizer(one.close)
    parallel = PgSearcher(one, DIM, MODEL, _embed, PgSearchParams(exact_rows=0, parallel_rows=0))
    sequential = PgSearcher(one, DIM, MODEL, _embed, PgSearchParams(exact_rows=0, parallel_rows=10**9))
    twins: list[PgView] = []
    twin = PgView.twin
    monkeypatch.setattr(PgView, "twin", lambda view, conn: twins.append(view) or twin(view, conn))
    results = []
    for searcher in (parallel, sequential):
        with searcher.view(frozenset({"brakes", "security"}), {}) as view:
            dense, lexical = view.hybrid(QUERY, lambda: _vector(QUERY), 4)
        results.append((dense[0].tolist(), lexical[0].tolist(), np.round(lexical[1], 6).tolist()))
    assert twins == []  # no second connection was had
    assert results[0] == results[1] and len(results[0][1]) == 4
