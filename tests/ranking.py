"""Comparing two rankings that were computed in different arithmetic (SQL double against numpy float32)."""

from __future__ import annotations

from collections.abc import Sequence

from assistant.types import Hit

TIE = 1e-4  # scores this close are a tie: which of them comes first is the backend's rounding, not a ranking


def ranking_difference(ours: Sequence[Hit], theirs: Sequence[Hit], tie: float = TIE) -> str | None:
    """Why two hit lists are not the same ranking, or None when they are.

    Same length, the same score at every rank (within ``tie``), and the same chunks at every run of tied
    ranks. A run that reaches the end of the list may hold different chunks: the cut at ``k`` went through a
    tie, and which tied chunks made it is rounding too.
    """
    if len(ours) != len(theirs):
        return f"{len(ours)} hits against {len(theirs)}"
    for rank, (a, b) in enumerate(zip(ours, theirs, strict=True), 1):
        if abs(a.score - b.score) > tie:
            return f"rank {rank}: score {a.score:.6f} against {b.score:.6f}"
    start = 0
    while start < len(ours):
        end = start + 1
        while end < len(ours) and abs(ours[end].score - ours[end - 1].score) <= tie:
            end += 1
        mine = {h.chunk.chunk_id for h in ours[start:end]}
        other = {h.chunk.chunk_id for h in theirs[start:end]}
        if end < len(ours) and mine != other:
            return f"ranks {start + 1}-{end}: {sorted(mine)} against {sorted(other)}"
        start = end
    return None
