"""Relevance a reader can interpret: the absolute match of a passage to the query, and its label.

A hit's ``score`` ranks the hits of one query (fused and reranked scores, normalised per query: the best hit
is near 1 even when nothing is relevant). ``Hit.relevance`` is absolute instead: the mean of the dense
cosine between query and passage and their late-interaction MaxSim, the per-passage form of the evidence the
refusal rule uses (assistant/refusal.py). On this scale unrelated text sits near 0.1-0.3 and a passage that
states the answer near 0.7-0.85, so it can be shown as a 0-1 value and as a label:

- ``high``: at least 0.60;
- ``medium``: at least the calibrated refusal threshold (0.46, docs/answering.md);
- ``low``: below it; an answer whose best passage is this weak is refused.
"""

from __future__ import annotations

__all__ = ["HIGH", "MEDIUM", "label", "shown"]

HIGH = 0.60
MEDIUM = 0.46


def shown(relevance: float | None) -> float | None:
    """The relevance as shown to people: clipped to 0-1 and rounded to two places."""
    return None if relevance is None else round(min(1.0, max(0.0, relevance)), 2)


def label(relevance: float | None) -> str | None:
    """``high``, ``medium`` or ``low`` (None when the relevance is unknown)."""
    if relevance is None:
        return None
    if relevance >= HIGH:
        return "high"
    return "medium" if relevance >= MEDIUM else "low"
