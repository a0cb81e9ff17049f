"""The tie-aware ranking comparison the backend-parity tests use (tests/ranking.py)."""

from __future__ import annotations

from dataclasses import replace

from assistant.types import Hit
from tests.factories import make_hit
from tests.ranking import ranking_difference


def _hit(name: str, score: float) -> Hit:
    hit = make_hit(name, title=name)
    return replace(hit, score=score)


def test_tied_chunks_may_swap_but_nothing_else_may() -> None:
    a, b, c, d = _hit("a", 0.9), _hit("b", 0.5), _hit("c", 0.50000004), _hit("d", 0.1)
    assert ranking_difference([a, b, c, d], [a, b, c, d]) is None
    assert ranking_difference([a, b, c, d], [a, c, b, d]) is None  # b and c tie
    assert ranking_difference([a, b, c, d], [b, a, c, d]) is not None  # 0.9 against 0.5 at rank 1
    assert ranking_difference([a, b, c, d], [a, b, d, c]) is not None
    assert ranking_difference([a, b, c], [a, b]) == "3 hits against 2"


def test_a_tie_cut_by_k_may_hold_different_chunks() -> None:
    a, b, c = _hit("a", 0.9), _hit("b", 0.5), _hit("c", 0.5)
    assert ranking_difference([a, b], [a, c]) is None  # the top 2 of a, b, c: b and c tie for the last place
    assert ranking_difference([b, a], [c, a]) is not None  # not at the end: a different chunk at a rank
