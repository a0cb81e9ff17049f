"""The packed postings' arithmetic (assistant/pg/pack.py) without a database: a block's layout, BM25's
formula over blocks, and the top-k with ties (the database side is tests/integration/test_pg_pack.py)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from assistant.pg import pack


def _block(postings: list[tuple[int, int, int]]) -> bytes:
    """A block as PostgreSQL's int4send/int2send write it: slots, then lengths, then term frequencies."""
    slots = b"".join(struct.pack(">I", s) for s, _n, _f in postings)
    lengths = b"".join(struct.pack(">h", n) for _s, n, _f in postings)
    tfs = b"".join(struct.pack(">h", f) for _s, _n, f in postings)
    return slots + lengths + tfs


def test_a_block_decodes_to_its_slots_lengths_and_frequencies() -> None:
    slots, lengths, tfs = pack.decode(_block([(0, 12, 1), (7, 300, 2), (2**20, 5, 32_767)]))
    assert slots.tolist() == [0, 7, 2**20]
    assert lengths.tolist() == [12, 300, 5]
    assert tfs.tolist() == [1, 2, 32_767]


def test_a_block_of_a_size_that_is_not_whole_postings_is_refused() -> None:
    with pytest.raises(ValueError, match="postings block of 9 bytes"):
        pack.decode(_block([(1, 2, 3)]) + b"\x00")


def test_scores_are_bm25_sums_over_the_terms() -> None:
    norm0, norm1 = 0.3, 0.01
    first = _block([(0, 10, 1), (3, 40, 2)])
    second = _block([(3, 40, 1), (4, 20, 3)])
    scores = pack.score([(2.0, first), (0.5, second)], 6, norm0, norm1)

    def share(weight: float, tf: int, length: int) -> float:
        return weight * tf / (tf + norm0 + norm1 * length)

    expected = [share(2.0, 1, 10), 0.0, 0.0, share(2.0, 2, 40) + share(0.5, 1, 40), share(0.5, 3, 20), 0.0]
    assert scores.tolist() == pytest.approx(expected, rel=1e-15)


def test_top_takes_the_best_positive_scores_and_breaks_ties_by_slot() -> None:
    scores = np.array([0.0, 2.0, 5.0, 2.0, 2.0 + 1e-14, 7.0, 0.0])
    assert pack.top(scores, 3).tolist() == [5, 2, 1]  # 1, 3 and 4 tie (within summation noise): slot order
    assert pack.top(scores, 10).tolist() == [5, 2, 1, 3, 4]  # zero scores are not results
    assert pack.top(np.zeros(4), 2).tolist() == []


def test_scores_add_up_across_slot_ranges_and_terms() -> None:
    """Blocks of two slot ranges (2**18 slots each) and two terms land on their own slots."""
    edge = 1 << pack.BLOCK_BITS
    low = _block([(1, 10, 1), (edge - 1, 10, 1)])
    high = _block([(edge, 10, 1), (edge + 3, 10, 2)])
    other = _block([(edge + 3, 10, 1)])
    scores = pack.score([(1.0, low), (1.0, high), (3.0, other)], edge + 4, 0.0, 0.0)
    assert np.flatnonzero(scores).tolist() == [1, edge - 1, edge, edge + 3]
    assert scores[[1, edge - 1, edge, edge + 3]].tolist() == [1.0, 1.0, 1.0, 4.0]
