"""The ``Index`` contract (assistant/index/base.py): the dense index (exact and IVF) and the lexical index
pass the same tests for what they share: filtered search, row ids, updates by row, full and delta files.

An implementation joins by adding one ``Flavour`` to ``FLAVOURS``: how to build it over row ids and passages,
how to load it, and how a passage becomes its query and its added rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.index.ann import ANN_KIND, AnnParams
from assistant.index.base import Index
from assistant.index.dense import FLAT_KIND, FaissIndex
from assistant.index.lexical import Bm25Index
from assistant.passages import text_hash

DIM = 32
ROWS = 240
# Small enough that the test corpus gets an IVF base; probing every cluster keeps its results exact.
IVF = AnnParams(min_rows=100, nprobe=1_000, rows_per_list=40)
FILLER = ["brake", "pad", "wear", "sensor", "coolant", "pump", "torque", "caliper", "disc", "fault"]


def _embed(passages: Sequence[str]) -> np.ndarray:
    """A fixed unit vector per passage text (the dense flavours' stand-in for an embedding model)."""
    out = np.zeros((len(passages), DIM), dtype=np.float32)
    for i, passage in enumerate(passages):
        v = np.random.default_rng(int(text_hash(passage)[:8], 16)).standard_normal(DIM)
        out[i] = v / np.linalg.norm(v)
    return out


@dataclass(frozen=True)
class Flavour:
    """One implementation of the seam, with what its queries and added rows are made of."""

    kind: str
    build: Callable[[np.ndarray, list[str]], Index[Any, Any]]
    load: Callable[[Path], Index[Any, Any]]
    query: Callable[[str], Any]
    added: Callable[[list[str]], Any]


def _dense(ann: AnnParams | None, kind: str) -> Flavour:
    return Flavour(
        kind,
        lambda rows, passages: FaissIndex.build(rows, _embed(passages), ann),
        lambda folder: FaissIndex.load(folder, ann=ann),
        lambda text: _embed([text])[0],
        _embed,
    )


FLAVOURS = {
    "flat": _dense(None, FLAT_KIND),
    "ivf": _dense(IVF, ANN_KIND),
    "lexical": Flavour(Bm25Index.kind, Bm25Index.build, Bm25Index.load, lambda text: text, list),
}


def _passage(i: int) -> str:
    """A passage with a word no other passage has (``part`` plus letters) among common filler words."""
    word = "part" + "".join(chr(ord("a") + int(d)) for d in str(i))
    rng = np.random.default_rng(i)
    return " ".join([word, *rng.choice(FILLER, size=4).tolist()])


ROW_IDS = np.arange(1, 3 * ROWS + 1, 3, dtype=np.int64)  # gaps, as a store leaves after removals
PASSAGES = [_passage(int(r)) for r in ROW_IDS]


@pytest.fixture(params=sorted(FLAVOURS))
def flavour(request: pytest.FixtureRequest) -> Flavour:
    return FLAVOURS[request.param]


@pytest.fixture
def index(flavour: Flavour) -> Index[Any, Any]:
    return flavour.build(ROW_IDS, PASSAGES)


def _top(flavour: Flavour, index: Index[Any, Any], row: int, allowed: np.ndarray | None = None) -> int | None:
    """The best row for the query made from ``row``'s passage (rows added later included)."""
    ids, _scores = index.search(flavour.query(_passage(row)), 5, allowed)
    return int(ids[0]) if len(ids) else None


def _same(flavour: Flavour, a: Index[Any, Any], b: Index[Any, Any], rows: Sequence[int]) -> None:
    """Both hold the same rows and answer the same queries the same way (rows tied at the cut-off aside)."""
    assert np.array_equal(a.row_ids(), b.row_ids()) and len(a) == len(b)
    for row in rows:
        ids_a, scores_a = a.search(flavour.query(_passage(row)), 10, None)
        ids_b, scores_b = b.search(flavour.query(_passage(row)), 10, None)
        assert ids_a[0] == ids_b[0] == row
        assert np.allclose(scores_a, scores_b, atol=1e-5)
        above = scores_a[-1] + 1e-5
        assert set(ids_a[scores_a > above].tolist()) == set(ids_b[scores_b > above].tolist())


class IndexContract:
    """What every ``Index`` implementation must do; run against each flavour through the ``index`` fixture."""

    def test_built_index_holds_every_row_and_is_of_its_kind(
        self, flavour: Flavour, index: Index[Any, Any]
    ) -> None:
        assert len(index) == ROWS
        assert np.array_equal(index.row_ids(), ROW_IDS)
        assert index.kind == flavour.kind

    def test_search_finds_a_passage_first_by_its_own_query(
        self, flavour: Flavour, index: Index[Any, Any]
    ) -> None:
        for row in ROW_IDS[::37].tolist():
            assert _top(flavour, index, row) == row

    def test_search_returns_at_most_k_rows_best_first(self, flavour: Flavour, index: Index[Any, Any]) -> None:
        ids, scores = index.search(flavour.query("brake pad wear sensor"), 7, None)
        assert 0 < len(ids) <= 7 and len(ids) == len(scores)
        assert len(set(ids.tolist())) == len(ids) and set(ids.tolist()) <= set(ROW_IDS.tolist())
        assert np.all(np.diff(scores) <= 1e-6)

    def test_search_returns_only_allowed_rows(self, flavour: Flavour, index: Index[Any, Any]) -> None:
        target = int(ROW_IDS[10])
        allowed = np.sort(ROW_IDS[ROW_IDS % 2 == 0])  # half the rows; the target is not among them
        assert target not in set(allowed.tolist())
        ids, _scores = index.search(flavour.query(_passage(target)), 20, allowed)
        assert len(ids) > 0 and set(ids.tolist()) <= set(allowed.tolist())
        inside = int(allowed[5])
        assert _top(flavour, index, inside, allowed) == inside

    def test_search_with_nothing_allowed_returns_nothing(
        self, flavour: Flavour, index: Index[Any, Any]
    ) -> None:
        ids, scores = index.search(flavour.query(_passage(int(ROW_IDS[0]))), 5, np.zeros(0, dtype=np.int64))
        assert len(ids) == 0 and len(scores) == 0

    def test_apply_removes_and_adds_rows_and_leaves_the_old_index_alone(
        self, flavour: Flavour, index: Index[Any, Any]
    ) -> None:
        gone, new = ROW_IDS[:3], np.array([9_001, 9_002], dtype=np.int64)
        updated = index.apply(gone, new, flavour.added([_passage(9_001), _passage(9_002)]))
        assert len(updated) == ROWS - 1
        assert np.array_equal(updated.row_ids(), np.concatenate([ROW_IDS[3:], new]))
        assert _top(flavour, updated, 9_002) == 9_002
        ids, _scores = updated.search(flavour.query(_passage(int(gone[0]))), ROWS, gone)
        assert len(ids) == 0  # removed rows are not found even when allowed
        assert np.array_equal(index.row_ids(), ROW_IDS) and _top(flavour, index, int(gone[0])) == int(gone[0])

    def test_applying_a_change_twice_gives_the_same_index(
        self, flavour: Flavour, index: Index[Any, Any]
    ) -> None:
        change = (ROW_IDS[5:8], np.array([9_005], dtype=np.int64), flavour.added([_passage(9_005)]))
        once = index.apply(*change)
        _same(flavour, once, once.apply(*change), [9_005, int(ROW_IDS[20])])

    def test_a_row_removed_and_added_again_is_indexed_once_with_its_new_content(
        self, flavour: Flavour, index: Index[Any, Any]
    ) -> None:
        row = int(ROW_IDS[-1])
        updated = index.apply(np.array([row]), np.array([row]), flavour.added([_passage(7_777)]))
        assert len(updated) == ROWS and np.array_equal(updated.row_ids(), ROW_IDS)
        assert _top(flavour, updated, 7_777) == row

    def test_compaction_folds_the_delta_into_the_base(self, flavour: Flavour, index: Index[Any, Any]) -> None:
        assert index.delta_size() == 0 and index.main_size() == ROWS
        updated = index.apply(ROW_IDS[:2], np.array([9_010]), flavour.added([_passage(9_010)]))
        assert updated.delta_size() == 3 and updated.shares_base(index)
        compact = updated.compacted()
        assert compact.delta_size() == 0 and compact.main_size() == ROWS - 1
        assert not compact.shares_base(index)
        _same(flavour, compact, updated, [9_010, int(ROW_IDS[30])])

    def test_save_and_load_round_trip(self, flavour: Flavour, index: Index[Any, Any], tmp_path: Path) -> None:
        updated = index.apply(ROW_IDS[:4], np.array([9_020]), flavour.added([_passage(9_020)]))
        updated.save(tmp_path)
        loaded = flavour.load(tmp_path)
        assert loaded.kind == flavour.kind
        _same(flavour, loaded, updated, [9_020, int(ROW_IDS[50]), int(ROW_IDS[-1])])

    def test_a_saved_delta_over_its_base_reads_back_as_the_updated_index(
        self, flavour: Flavour, index: Index[Any, Any], tmp_path: Path
    ) -> None:
        base, delta = tmp_path / "base", tmp_path / "delta"
        base.mkdir()
        delta.mkdir()
        index.save(base)
        updated = index.apply(ROW_IDS[:4], np.array([9_030]), flavour.added([_passage(9_030)]))
        updated.save_delta(delta)
        restored = flavour.load(base).with_delta(delta)
        _same(flavour, restored, updated, [9_030, int(ROW_IDS[60])])
        assert restored.delta_size() == updated.delta_size()

    def test_an_unreadable_delta_is_refused(self, index: Index[Any, Any], tmp_path: Path) -> None:
        with pytest.raises((ValueError, OSError)):
            index.with_delta(tmp_path)  # an empty folder: no delta files


class TestIndexFlavours(IndexContract):
    """The contract, run once per flavour in ``FLAVOURS``."""
