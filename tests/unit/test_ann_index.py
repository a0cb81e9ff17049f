"""Above its threshold the dense base is an IVF index: recall@10 against exact search stays >= 0.95 for a
reader of 1 %, 10 % and 100 % of the rows, the access filter holds, and updates, compaction, files and
stored vectors work as for the exact index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.index.ann import ANN_KIND, AnnParams, build_ivf, search_params, selector
from assistant.index.dense import FLAT_KIND, FaissIndex

ROWS = 30_000
DOC = 100  # rows per document: an access filter allows whole documents, i.e. runs of row ids
DIM = 64
# 300 clusters, 8 scanned for a reader of everything: a real approximation, not a scan in disguise.
ANN = AnnParams(min_rows=10_000, nprobe=8, rows_per_list=100)


def _corpus() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row ids, unit vectors, query vectors): each document's rows are noisy copies of 8 of 600 topics."""
    rng = np.random.default_rng(7)
    topics = rng.standard_normal((600, DIM)).astype(np.float32)
    per_doc = rng.integers(0, len(topics), size=(ROWS // DOC, 8))
    pick = per_doc[np.arange(ROWS) // DOC, rng.integers(0, 8, size=ROWS)]
    vectors = topics[pick] + 0.6 * rng.standard_normal((ROWS, DIM)).astype(np.float32)
    queries = topics[rng.integers(0, len(topics), size=40)] + 0.72 * rng.standard_normal((40, DIM))
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return (
        np.arange(1, ROWS + 1, dtype=np.int64),  # SQLite row ids start at 1
        unit.astype(np.float32),
        (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32),
    )


def _allowed(row_ids: np.ndarray, share: float, seed: int) -> np.ndarray | None:
    if share >= 1.0:
        return None
    docs = np.random.default_rng(seed).choice(len(row_ids) // DOC, size=int(len(row_ids) // DOC * share))
    return np.sort(row_ids[(np.unique(docs)[:, None] * DOC + np.arange(DOC)).ravel()])


def _exact(
    row_ids: np.ndarray, vectors: np.ndarray, query: np.ndarray, allowed: np.ndarray | None
) -> set[int]:
    mask = np.ones(len(row_ids), dtype=bool) if allowed is None else np.isin(row_ids, allowed)
    scores = vectors[mask] @ query
    return set(row_ids[mask][np.argsort(-scores)[:10]].tolist())


@pytest.fixture(scope="module")
def corpus() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _corpus()


@pytest.fixture(scope="module")
def ann_index(corpus: tuple[np.ndarray, np.ndarray, np.ndarray]) -> FaissIndex:
    row_ids, vectors, _ = corpus
    return FaissIndex.build(row_ids, vectors, ANN)


def test_a_base_below_the_threshold_stays_exact(corpus: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    row_ids, vectors, _ = corpus
    assert FaissIndex.build(row_ids[:9_000], vectors[:9_000], ANN).kind == FLAT_KIND
    assert FaissIndex.build(row_ids, vectors).kind == FLAT_KIND  # no ANN parameters: exact at any size


@pytest.mark.parametrize("share", [0.01, 0.1, 1.0])
def test_recall_at_10_against_exact_search_under_an_access_filter(
    corpus: tuple[np.ndarray, np.ndarray, np.ndarray], ann_index: FaissIndex, share: float
) -> None:
    row_ids, vectors, queries = corpus
    assert ann_index.kind == ANN_KIND
    recalls = []
    for i, query in enumerate(queries):
        allowed = _allowed(row_ids, share, seed=i)
        ids, scores = ann_index.search(query, 10, allowed)
        assert len(ids) == 10 and np.all(np.diff(scores) <= 0)
        if allowed is not None:
            assert np.isin(ids, allowed).all()  # the filter is inside the search
        recalls.append(len(set(ids.tolist()) & _exact(row_ids, vectors, query, allowed)) / 10)
    assert np.mean(recalls) >= 0.95


def test_without_scaling_the_probe_a_narrow_reader_loses_recall(
    corpus: tuple[np.ndarray, np.ndarray, np.ndarray], ann_index: FaissIndex
) -> None:
    """The compensation is needed: at the probe of a reader of everything, a 1 % reader's best rows are
    mostly in clusters that are not scanned."""
    row_ids, vectors, queries = corpus
    ivf = build_ivf(row_ids, vectors, ANN)
    recalls = {}
    for share_seen in (1.0, 0.01):  # the probe as if the reader read everything, and as it is
        found = []
        for i, query in enumerate(queries):
            allowed = _allowed(row_ids, 0.01, seed=i)
            assert allowed is not None
            _, ids = ivf.search(
                query[None], 10, params=search_params(ivf, selector(allowed), share_seen, ANN)
            )
            found.append(len(set(ids[0].tolist()) & _exact(row_ids, vectors, query, allowed)) / 10)
        recalls[share_seen] = np.mean(found)
    assert recalls[1.0] < 0.5 and recalls[0.01] == 1.0  # scanning every cluster is exact


def test_updates_compaction_files_and_vectors_round_trip(
    corpus: tuple[np.ndarray, np.ndarray, np.ndarray], ann_index: FaissIndex, tmp_path: Path
) -> None:
    row_ids, vectors, queries = corpus
    removed = row_ids[:DOC]  # a document removed
    added = np.arange(ROWS + 1, ROWS + 1 + DOC, dtype=np.int64)  # a new one
    fresh = vectors[DOC : 2 * DOC][::-1].copy()
    updated = ann_index.apply(removed, added, fresh)
    assert updated.shares_base(ann_index) and len(updated) == ROWS
    assert updated.vector(int(added[3])) == pytest.approx(fresh[3])
    assert updated.vector(int(row_ids[500])) == pytest.approx(vectors[500], abs=1e-6)

    (tmp_path / "base").mkdir()
    (tmp_path / "delta").mkdir()
    ann_index.save(tmp_path / "base")  # a full version, then a delta over it
    updated.save_delta(tmp_path / "delta")
    reloaded = FaissIndex.load(tmp_path / "base", ANN).with_delta(tmp_path / "delta")
    compact = updated.compacted()
    assert reloaded.kind == compact.kind == ANN_KIND and compact.delta_size() == 0
    live = np.sort(np.concatenate([row_ids[DOC:], added]))
    allowed = live[::3]  # every third row: some of the base, some of the delta
    for index in (updated, reloaded, compact):
        assert np.array_equal(index.row_ids(), live)
        ids, _ = index.search(queries[0], 20, allowed)
        assert np.isin(ids, allowed).all() and not np.isin(ids, removed).any()
    assert np.array_equal(updated.search(queries[1], 20, None)[0], reloaded.search(queries[1], 20, None)[0])
    assert compact.vector(int(added[3])) == pytest.approx(fresh[3])


def test_a_base_that_grows_past_the_threshold_becomes_approximate_when_compacted(
    corpus: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    row_ids, vectors, _ = corpus
    small = FaissIndex.build(row_ids[:8_000], vectors[:8_000], ANN)
    grown = small.apply(np.zeros(0, dtype=np.int64), row_ids[8_000:12_000], vectors[8_000:12_000])
    assert grown.kind == FLAT_KIND and grown.kind_due()
    compact = grown.compacted()
    assert compact.kind == ANN_KIND and not compact.kind_due()
    assert np.array_equal(compact.row_ids(), row_ids[:12_000])
    assert compact.vector(9_000) == pytest.approx(vectors[8_999], abs=1e-6)
    shrunk = compact.apply(row_ids[:7_000], np.zeros(0, dtype=np.int64), np.zeros((0, DIM), np.float32))
    assert not shrunk.kind_due()  # 5,000 rows: above half the threshold, it stays approximate
    gone = compact.apply(row_ids[:8_000], np.zeros(0, dtype=np.int64), np.zeros((0, DIM), np.float32))
    assert gone.kind_due() and gone.compacted().kind == FLAT_KIND
