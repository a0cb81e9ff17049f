"""Retrieval metrics, computed with ir-measures (trec_eval under the hood) and cross-checked in tests."""

from __future__ import annotations

from collections.abc import Mapping

import ir_measures
from ir_measures import AP, RR, R, nDCG

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Mapping[str, float]]

MEASURES = {
    "ndcg@10": nDCG @ 10,
    "recall@1": R @ 1,
    "recall@5": R @ 5,
    "recall@10": R @ 10,
    "recall@100": R @ 100,
    "mrr@10": RR @ 10,
    "map@100": AP @ 100,
}
RECALL_KS = (1, 5, 10, 20, 50, 100)


def retrieval_metrics(qrels: Qrels, run: Run) -> dict[str, float]:
    """Mean of each tracked metric over the queries in ``qrels`` (a query missing from ``run`` scores 0).

    Example:
        >>> retrieval_metrics({"q": {"d1": 1}}, {"q": {"d1": 0.9, "d2": 0.1}})["mrr@10"]
        1.0
    """
    qrels = {q: dict(d) for q, d in qrels.items() if any(v > 0 for v in d.values())}
    run = {q: dict(run.get(q, {})) or {"__none__": 0.0} for q in qrels}
    result = ir_measures.calc_aggregate(list(MEASURES.values()), qrels, run)
    return {name: float(result.get(measure, 0.0)) for name, measure in MEASURES.items()}


def recall_curve(qrels: Qrels, run: Run, ks: tuple[int, ...] = RECALL_KS) -> dict[int, float]:
    """Recall@k for several k (for the plots)."""
    qrels = {q: dict(d) for q, d in qrels.items() if any(v > 0 for v in d.values())}
    run = {q: dict(run.get(q, {})) or {"__none__": 0.0} for q in qrels}
    result = ir_measures.calc_aggregate([R @ k for k in ks], qrels, run)
    return {k: float(result.get(R @ k, 0.0)) for k in ks}
