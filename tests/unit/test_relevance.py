"""Relevance labels shown to people."""

from __future__ import annotations

from assistant import relevance


def test_labels_follow_the_calibrated_thresholds() -> None:
    assert relevance.label(0.81) == "high"
    assert relevance.label(relevance.HIGH) == "high"
    assert relevance.label(0.5) == "medium"
    assert relevance.label(relevance.MEDIUM) == "medium"
    assert relevance.label(0.3) == "low"
    assert relevance.label(None) is None


def test_shown_value_is_clipped_to_zero_one() -> None:
    assert relevance.shown(-0.2) == 0.0
    assert relevance.shown(1.3) == 1.0
    assert relevance.shown(0.4567) == 0.46
    assert relevance.shown(None) is None
