import numpy as np

from assistant.index.lexical import Bm25Index

PASSAGES = [
    "TIME-WAIT lasts two MSL before the connection closes",
    "The MSL is taken to be 2 minutes",
    "Coolant pump speed is 3000 rpm",
]


def test_rm3_expansion_keeps_the_query_and_adds_feedback_terms() -> None:
    index = Bm25Index.build(np.arange(3, dtype=np.int64), PASSAGES)
    weights = index.expand("TIME-WAIT duration", PASSAGES[:1], terms=8, weight=0.5)
    query = ("time-wait", "time", "wait", "durat")
    assert all(weights[t] == 1.0 for t in query)
    added = {t: w for t, w in weights.items() if t not in query}
    assert "msl" in added and "coolant" not in added
    assert abs(sum(added.values()) - 0.5 * len(query)) < 1e-9
    ids, _ = index.search_weighted(weights, k=3, allowed=None)
    assert ids[0] == 0 and 1 in ids.tolist()  # the expansion term reaches the MSL passage


def test_weighted_search_respects_the_allowed_rows() -> None:
    index = Bm25Index.build(np.array([10, 20, 30], dtype=np.int64), PASSAGES)
    ids, _ = index.search_weighted({"msl": 1.0}, k=3, allowed=np.array([20], dtype=np.int64))
    assert ids.tolist() == [20]
