"""Relevance labels shown to people."""

from __future__ import annotations

from assistant import relevance
from assistant.citations import content_words


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


def test_coverage_is_the_share_of_question_words_in_the_passage() -> None:
    words = content_words("Kestrel KV-4 wheel nut torque")
    assert relevance.coverage(words, "Kestrel KV-4 | Wheels\nWheel nuts: 140 Nm torque.") == 1.0
    assert 0.0 < relevance.coverage(words, "Tamsin TC-2 | Wheels\nWheel nuts: 120 Nm torque.") < 1.0
    assert relevance.coverage(set(), "anything") == 0.0


def test_relevance_is_the_mean_of_cosine_and_coverage() -> None:
    assert relevance.of(0.5, 1.0) == 0.75
    assert relevance.of(0.3, 0.0) == 0.15
