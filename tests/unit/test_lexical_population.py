"""BM25 statistics come from the population the caller may read, and nothing else."""

from __future__ import annotations

from pathlib import Path

import bm25s
import numpy as np

from assistant.index.lexical import Bm25Index
from assistant.tokenize import tokenize

PASSAGES = [
    "Brake pad wear sensor warning at 3 mm remaining pad thickness.",
    "Battery cell voltage limits and the thermal runaway response of the pack.",
    "Security key rotation: the brake controller firmware signing key is rotated yearly.",
    "Brake fluid DOT 4, replaced every two years; pad bedding procedure.",
    "Wheel nut torque 140 N·m; brake disc minimum thickness 26 mm.",
    "Secret brake brake brake pad pad wear wear sensor firmware key.",
]
ROWS = np.array([2, 3, 5, 8, 9, 12], dtype=np.int64)
QUERIES = ["brake pad wear", "firmware key", "thickness mm", "battery"]


def test_scores_over_a_population_equal_an_index_of_that_population_alone() -> None:
    everything = Bm25Index.build(ROWS, PASSAGES)
    readable = np.array([0, 1, 3, 4])
    alone = Bm25Index.build(ROWS[readable], [PASSAGES[i] for i in readable])
    for query in QUERIES:
        ids, scores = everything.search(query, 10, ROWS[readable], population=ROWS[readable])
        want_ids, want_scores = alone.search(query, 10, None)
        assert ids.tolist() == want_ids.tolist(), query
        np.testing.assert_allclose(scores, want_scores, rtol=1e-6)


def test_rows_outside_the_population_change_no_score() -> None:
    readable = ROWS[[0, 1, 3, 4]]
    small = Bm25Index.build(ROWS[:5], PASSAGES[:5])
    large = Bm25Index.build(ROWS, PASSAGES)  # plus a passage full of the query words
    for query in QUERIES:
        before = small.search(query, 10, readable, population=readable)
        after = large.search(query, 10, readable, population=readable)
        assert before[0].tolist() == after[0].tolist(), query
        assert before[1].tolist() == after[1].tolist(), query


def test_every_row_scores_as_bm25s_lucene_does() -> None:
    index = Bm25Index.build(ROWS, PASSAGES)
    reference = bm25s.BM25(k1=1.2, b=0.75)
    reference.index([tokenize(p) for p in PASSAGES], show_progress=False)
    for query in QUERIES:
        tokens = [t for t in tokenize(query) if t in reference.vocab_dict]
        want = np.asarray(reference.get_scores(tokens), dtype=np.float32)
        ids, scores = index.search(query, 10, None)
        got = np.zeros(len(ROWS), dtype=np.float32)
        got[np.searchsorted(ROWS, ids)] = scores
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_an_index_reads_back_what_it_saved(tmp_path: Path) -> None:
    index = Bm25Index.build(ROWS, PASSAGES, k1=1.5, b=0.6)
    index.save(tmp_path)
    loaded = Bm25Index.load(tmp_path)
    assert loaded.row_ids().tolist() == ROWS.tolist() and (loaded.k1, loaded.b) == (1.5, 0.6)
    for query in QUERIES:
        a, b = index.search(query, 10, None, ROWS[:3]), loaded.search(query, 10, None, ROWS[:3])
        assert a[0].tolist() == b[0].tolist() and a[1].tolist() == b[1].tolist()


def test_an_empty_population_finds_nothing() -> None:
    index = Bm25Index.build(ROWS, PASSAGES)
    empty = np.zeros(0, dtype=np.int64)
    assert not len(index.search("brake", 10, empty, population=empty)[0])
