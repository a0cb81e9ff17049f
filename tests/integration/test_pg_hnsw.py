"""The PostgreSQL searcher's HNSW index over time: rows added after it was built are also scanned exactly
(an island of new rows may be poorly linked into the graph), `rebuild` builds a new index beside the one in
use and swaps it in, and two rebuilds at once are refused (real PostgreSQL with pgvector)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import psycopg
import pytest

from assistant.errors import ConfigError
from assistant.pg.search import PgSearcher, PgSearchParams, index_name
from tests.contract.test_searcher_contract import (
    DIM,
    MODEL,
    Backend,
    _doc,
    _embed,
    _load,
    _passages,
    _postgres,
    _put,
    _vector,
)

NEW = _doc("coolant", ["Coolant pump torque is 9 Nm.", "Coolant hose clamp at 2 Nm."], {"thermal"})


def _searcher(backend: Backend) -> PgSearcher:
    assert isinstance(backend.searcher, PgSearcher)
    return backend.searcher


def _watermark(searcher: PgSearcher) -> tuple[int, int]:
    """(the row the index was built up to, the highest row)."""
    with searcher.db.connection() as conn:
        row = conn.execute(
            "SELECT dense_watermark, (SELECT max(row_id) FROM chunks) FROM store_state"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _exact(backend: Backend, groups: set[str], query: np.ndarray) -> list[int]:
    passages = _passages(backend.store, groups)
    return sorted(passages, key=lambda r: (-float(np.dot(_vector(passages[r][1]), query)), r))


def test_rows_added_after_the_index_was_built_are_found_exactly(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The index is built over the first documents; a document added later is found, in exact order, by a
    reader of it alone, even with the smallest HNSW candidate list and scan budget."""
    backend = _postgres(tmp_path, request, exact_rows=0)
    searcher = _searcher(backend)
    _load(backend.store)
    searcher.rebuild()
    built, highest = _watermark(searcher)
    assert built == highest > 0
    _put(backend.store, *NEW)
    assert _watermark(searcher)[1] > built
    narrow = PgSearcher(
        searcher.db, DIM, MODEL, _embed, PgSearchParams(exact_rows=0, ef_search=1, max_scan_tuples=1)
    )
    query = _vector("coolant pump")
    with narrow.view(frozenset({"thermal"}), {}) as view:
        rows = view.dense(query, 2)[0].tolist()
    assert rows == _exact(backend, {"thermal"}, query)[:2]


def test_rebuild_swaps_in_a_new_index_and_moves_the_watermark(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    backend = _postgres(tmp_path, request, exact_rows=0, fresh_rows=0)
    searcher = _searcher(backend)
    _load(backend.store)
    _put(backend.store, *NEW)
    assert _watermark(searcher)[0] < _watermark(searcher)[1]  # rows came after the (empty) index
    everyone = {"brakes", "body", "security", "thermal"}
    assert searcher.rebuild()["dense"] == len(_passages(backend.store, everyone))
    built, highest = _watermark(searcher)
    assert built == highest
    with searcher.db.connection() as conn:
        names = [r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'chunks'")]
        valid = conn.execute(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", (index_name(DIM),)
        ).fetchone()
    assert index_name(DIM) in names and f"{index_name(DIM)}_new" not in names
    assert valid == (True,)
    assert searcher.verify() == []
    query = _vector("caliper")
    for groups in ({"security"}, {"brakes", "body", "thermal"}):
        with searcher.view(frozenset(groups), {}) as view:
            assert view.dense(query, 3)[0].tolist() == _exact(backend, groups, query)[:3]


def test_a_second_rebuild_at_the_same_time_is_refused(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    backend = _postgres(tmp_path, request, exact_rows=0)
    searcher = _searcher(backend)
    _load(backend.store)
    server_url = searcher.db.url
    with psycopg.connect(server_url, autocommit=True) as other:  # another process, building
        other.execute("SELECT pg_advisory_lock(hashtext(%s))", (index_name(DIM),))
        with pytest.raises(ConfigError, match="another process is building"):
            searcher.rebuild()
    searcher.rebuild()  # and once it is done, a rebuild goes through
    assert searcher.verify() == []


def test_a_process_starting_while_another_builds_the_index_does_not_wait_for_it(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A worker that starts during `eka index rebuild` searches exactly instead of waiting on the build's
    lock (waiting there deadlocked a concurrent build), and uses the index once a refresh finds it."""
    backend = _postgres(tmp_path, request, exact_rows=0)
    searcher = _searcher(backend)
    _load(backend.store)
    searcher.drop_index()
    with psycopg.connect(searcher.db.url, autocommit=True) as other:  # another process, building
        other.execute("SELECT pg_advisory_lock(hashtext(%s))", (index_name(DIM),))
        starting = PgSearcher(searcher.db, DIM, MODEL, _embed, PgSearchParams(exact_rows=0))
        assert not starting.has_index
    PgSearcher(searcher.db, DIM, MODEL, _embed)  # the other process is done: the index is there
    starting.refresh()
    assert starting.has_index
    query = _vector("caliper torque")
    with starting.view(frozenset({"brakes"}), {}) as view:
        # The same three rows as an exact scan (their order among near-equal halfvec distances may differ).
        assert set(view.dense(query, 3)[0].tolist()) == set(_exact(backend, {"brakes"}, query)[:3])


def test_a_process_starting_on_a_large_store_without_the_index_leaves_the_build_to_rebuild(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Above ``build_rows`` chunks (a bulk load dropped the index) a starting process does not build the
    index, which at 1M chunks takes half an hour: it searches exactly, `verify` says the index is missing, and
    after `rebuild` a refresh finds it."""
    backend = _postgres(tmp_path, request, exact_rows=0)
    searcher = _searcher(backend)
    _load(backend.store)
    searcher.drop_index()
    starting = PgSearcher(searcher.db, DIM, MODEL, _embed, PgSearchParams(exact_rows=0, build_rows=2))
    assert not starting.has_index
    with searcher.db.connection() as conn:
        assert not conn.execute("SELECT to_regclass(%s)", (index_name(DIM),)).fetchone()[0]  # type: ignore[index]
    assert any("no HNSW index" in problem for problem in starting.verify())
    query = _vector("caliper torque")
    with starting.view(frozenset({"brakes"}), {}) as view:
        assert view.dense(query, 3)[0].tolist() == _exact(backend, {"brakes"}, query)[:3]
    searcher.rebuild()
    starting.refresh()
    assert starting.has_index and starting.verify() == []
