"""Relevance a reader can interpret: the absolute match of a passage to the query, and its label.

A hit's ``score`` ranks the hits of one query (fused and reranked scores, normalised per query: the best hit
is near 1 even when nothing is relevant). ``Hit.relevance`` is absolute instead: the mean of

- the dense cosine between the query vector and the passage's stored vector ("about the same thing"), and
- the passage's lexical coverage: the share of the question's content words (stemmed, no stopwords) that
  occur in the passage, title and section path included (it drops when a model name, a quantity or a
  campaign id of the question is nowhere in the passage).

Neither needs an encoder pass besides the query's own vector, which the search has already computed. The
refusal evidence (assistant/refusal.py) is the best relevance among the hits an answer would use, so the
labels line up with refusals:

- ``high``: at least ``HIGH``;
- ``medium``: at least the calibrated refusal threshold (``MEDIUM``, docs/answering.md);
- ``low``: below it; an answer whose best passage is this weak is refused.
"""

from __future__ import annotations

from assistant.citations import content_words

__all__ = ["HIGH", "MEDIUM", "coverage", "label", "of", "shown"]

HIGH = 0.60
MEDIUM = 0.39


def coverage(question_words: set[str], passage: str) -> float:
    """Share of ``question_words`` (``citations.content_words`` of the question) found in ``passage``.

    Example:
        >>> coverage(content_words("pad wear limit"), "Brake Spec\\nThe pad wear limit is 2 mm.")
        1.0
    """
    if not question_words:
        return 0.0
    return len(question_words & content_words(passage)) / len(question_words)


def of(cosine: float, lexical_coverage: float) -> float:
    """The relevance of a passage: the mean of its dense cosine and its lexical coverage, 6 places."""
    return round((cosine + lexical_coverage) / 2, 6)


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
