"""An index updated by row (delta segment, deleted rows) searches exactly like one built from scratch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.index import lexical as lexical_index
from assistant.index.dense import FaissIndex
from assistant.index.lexical import Bm25Index

WORDS = [
    "brake",
    "pad",
    "wear",
    "sensor",
    "warning",
    "threshold",
    "fluid",
    "interval",
    "battery",
    "coolant",
    "pump",
    "thermal",
    "runaway",
    "fault",
    "memory",
    "diagnostic",
    "trouble",
    "code",
    "wheel",
    "nut",
    "torque",
    "firmware",
    "signing",
    "key",
    "rotation",
    "caliper",
    "disc",
    "mm",
    "Nm",
]
QUERIES = ["brake pad wear", "firmware signing key", "torque Nm", "coolant pump", "caliper disc mm fault"]


def _passages(rng: np.random.Generator, n: int) -> list[str]:
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(3, 30)))) for _ in range(n)]


def _vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, 16)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


class _Corpus:
    """The rows a store would hold, changed the way the store changes them (ids reused when the top goes)."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.passages: dict[int, str] = {}
        self.vectors: dict[int, np.ndarray] = {}
        self.add(60)

    def add(self, n: int) -> np.ndarray:
        start = max(self.passages, default=0) + 1  # SQLite: max(rowid) + 1
        rows = np.arange(start, start + n, dtype=np.int64)
        for row, text, vector in zip(rows, _passages(self.rng, n), _vectors(self.rng, n), strict=True):
            self.passages[int(row)] = text
            self.vectors[int(row)] = vector
        return rows

    def remove(self, rows: np.ndarray) -> None:
        for row in rows.tolist():
            del self.passages[row], self.vectors[row]

    def rows(self) -> np.ndarray:
        return np.asarray(sorted(self.passages), dtype=np.int64)

    def built(self) -> tuple[FaissIndex, Bm25Index]:
        rows = self.rows()
        return (
            FaissIndex.build(rows, np.vstack([self.vectors[r] for r in rows.tolist()])),
            Bm25Index.build(rows, [self.passages[r] for r in rows.tolist()]),
        )


def _changed(
    corpus: _Corpus, dense: FaissIndex, lexical: Bm25Index, removed: np.ndarray, added: np.ndarray
) -> tuple[FaissIndex, Bm25Index]:
    vectors = np.vstack([corpus.vectors[r] for r in added.tolist()]) if len(added) else np.zeros((0, 16))
    return (
        dense.apply(removed, added, vectors),
        lexical.apply(removed, added, [corpus.passages[r] for r in added.tolist()]),
    )


def _assert_same(corpus: _Corpus, dense: FaissIndex, lexical: Bm25Index) -> None:
    want_dense, want_lexical = corpus.built()
    rows = corpus.rows()
    assert dense.row_ids().tolist() == rows.tolist() == lexical.row_ids().tolist()
    readers = [None, rows[::2], rows[rows % 3 != 0], rows[-5:]]
    for reader in readers:
        for query in QUERIES:
            got = lexical.search(query, 1000, reader, population=reader)
            want = want_lexical.search(query, 1000, reader, population=reader)
            assert len(want[0]), query
            assert got[0].tolist() == want[0].tolist(), query
            assert got[1].tolist() == want[1].tolist(), query  # bit for bit
            got = lexical.search(query, 3, reader, population=reader)
            assert got[1].tolist() == want[1][:3].tolist(), query
        for vector in _vectors(np.random.default_rng(7), 4):
            got = dense.search(vector, 1000, reader)
            want = want_dense.search(vector, 1000, reader)
            assert len(want[0]) == (len(rows) if reader is None else len(reader))
            assert got[0].tolist() == want[0].tolist()
            assert got[1].tolist() == want[1].tolist()
    for row in rows.tolist():
        assert dense.vector(row).tolist() == corpus.vectors[row].tolist()


@pytest.mark.parametrize("block", [lexical_index.MERGE_BLOCK, 7])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_adds_replaces_and_removes_search_like_a_rebuild(
    seed: int, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A block of 7 postings makes every merge and compaction go through many term blocks.
    monkeypatch.setattr(lexical_index, "MERGE_BLOCK", block)
    corpus = _Corpus(seed)
    dense, lexical = corpus.built()
    for step in range(12):
        rows = corpus.rows()
        kind = step % 3
        if kind == 0:  # a new document
            removed = np.zeros(0, dtype=np.int64)
        elif kind == 1:  # a document from the middle goes
            removed = rows[10 + step : 16 + step]
        else:  # the newest document is replaced: its ids come back with other text
            removed = rows[-6:]
        corpus.remove(removed)
        added = corpus.add(int(corpus.rng.integers(3, 9))) if kind != 1 else np.zeros(0, dtype=np.int64)
        dense, lexical = _changed(corpus, dense, lexical, removed, added)
        _assert_same(corpus, dense, lexical)
    assert dense.delta_size() and lexical.delta_size()
    _assert_same(corpus, dense.compacted(), lexical.compacted())
    assert dense.compacted().delta_size() == 0 == lexical.compacted().delta_size()


def test_applying_a_change_twice_changes_nothing() -> None:
    corpus = _Corpus(4)
    dense, lexical = corpus.built()
    removed = corpus.rows()[-4:]
    corpus.remove(removed)
    added = corpus.add(5)
    dense, lexical = _changed(corpus, dense, lexical, removed, added)
    dense, lexical = _changed(corpus, dense, lexical, removed, added)
    _assert_same(corpus, dense, lexical)


def test_a_saved_delta_reads_back_over_its_base(tmp_path: Path) -> None:
    corpus = _Corpus(5)
    dense, lexical = corpus.built()
    (tmp_path / "base-d").mkdir()
    (tmp_path / "base-l").mkdir()
    dense.save(tmp_path / "base-d")
    lexical.save(tmp_path / "base-l")
    removed = corpus.rows()[[3, 4, 5, -1]]
    corpus.remove(removed)
    added = corpus.add(7)
    dense, lexical = _changed(corpus, dense, lexical, removed, added)
    (tmp_path / "delta-d").mkdir()
    (tmp_path / "delta-l").mkdir()
    dense.save_delta(tmp_path / "delta-d")
    lexical.save_delta(tmp_path / "delta-l")
    dense = FaissIndex.load(tmp_path / "base-d").with_delta(tmp_path / "delta-d")
    lexical = Bm25Index.load(tmp_path / "base-l").with_delta(tmp_path / "delta-l")
    assert dense.delta_size() and lexical.delta_size()
    _assert_same(corpus, dense, lexical)


def test_an_emptied_index_grows_again() -> None:
    corpus = _Corpus(6)
    dense, lexical = (
        FaissIndex.build(np.zeros(0, dtype=np.int64), np.zeros((0, 16))),
        Bm25Index.build(np.zeros(0, dtype=np.int64), []),
    )
    dense, lexical = _changed(corpus, dense, lexical, np.zeros(0, dtype=np.int64), corpus.rows())
    _assert_same(corpus, dense, lexical)
    everything = corpus.rows()
    corpus.remove(everything)
    dense, lexical = _changed(corpus, dense, lexical, everything, np.zeros(0, dtype=np.int64))
    assert len(dense) == 0 == len(lexical)
    assert dense.search(_vectors(corpus.rng, 1)[0], 5, None)[0].tolist() == []
    assert lexical.search("brake", 5, None)[0].tolist() == []
