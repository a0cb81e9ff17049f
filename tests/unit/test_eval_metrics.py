"""The metrics library is cross-checked against small cases computed by hand."""

import math

import pytest

from eval.metrics import recall_curve, retrieval_metrics


def test_single_relevant_document_at_rank_two() -> None:
    metrics = retrieval_metrics({"q": {"d2": 1}}, {"q": {"d1": 3.0, "d2": 2.0, "d3": 1.0}})
    assert metrics["mrr@10"] == pytest.approx(0.5)
    assert metrics["ndcg@10"] == pytest.approx(1 / math.log2(3))
    assert metrics["recall@1"] == 0.0 and metrics["recall@5"] == 1.0
    assert metrics["map@100"] == pytest.approx(0.5)


def test_two_relevant_documents_by_hand() -> None:
    # relevant d1 (rank 1) and d4 (rank 3); d9 relevant but never retrieved
    qrels = {"q": {"d1": 1, "d4": 1, "d9": 1}}
    run = {"q": {"d1": 0.9, "d2": 0.8, "d4": 0.7}}
    metrics = retrieval_metrics(qrels, run)
    dcg = 1 + 1 / math.log2(4)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert metrics["ndcg@10"] == pytest.approx(dcg / idcg)
    assert metrics["recall@1"] == pytest.approx(1 / 3)
    assert metrics["recall@5"] == pytest.approx(2 / 3)
    assert metrics["map@100"] == pytest.approx((1 / 1 + 2 / 3) / 3)
    assert metrics["mrr@10"] == 1.0


def test_queries_are_averaged_and_missing_runs_score_zero() -> None:
    qrels = {"a": {"x": 1}, "b": {"y": 1}}
    metrics = retrieval_metrics(qrels, {"a": {"x": 1.0}})
    assert metrics["mrr@10"] == pytest.approx(0.5)
    assert recall_curve(qrels, {"a": {"x": 1.0}}, ks=(1, 10)) == {1: 0.5, 10: 0.5}
