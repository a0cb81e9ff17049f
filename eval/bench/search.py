"""Search latency benchmark: what BM25 statistics over the caller's readable documents cost.

For each corpus, on one store: the latency of ``Retriever.search`` (the ``EKA_*`` settings, by default the
shipped ones: no reranker, relevance) per mode and reader, and of the lexical index alone (top 100 among the
reader's rows). A reader of everything is the fast path (statistics of every row, as before); a reader of
part of the corpus pays for the statistics of the part (a mask over the rows, document frequencies of the
query terms counted in it). The lexical index is also timed with whole-corpus statistics for the same
restricted reader (what the index did before, and still does when no population is given).

A corpus with sidecars (``*.meta.yaml``, the samples) keeps its access lists; any other corpus is ingested
one top-level folder per group (``pdf``, ``md``, ...), so it has readers of part of it.

``--lexical-only`` times the lexical index alone on an already ingested store (no embedding, no ingest): the
BM25 of earlier versions (bm25s, precomputed scores, statistics of every row, a mask over the scores) against
this one, with whole-corpus and with reader statistics.

The script runs on earlier versions of eka too (``PYTHONPATH`` of another checkout) for a before/after
comparison of ``Retriever.search``: they share the ``--home`` stores (an older lexical index is rebuilt on
first search, outside the timings).

Usage:
    python -m eval.bench.search samples ../shared/data/engineering-docs --home /tmp/eka-bench \
        --out eval-out/search.json [--modes hybrid]
    python -m eval.bench.search samples ../shared/data/engineering-docs --home /tmp/eka-bench --lexical-only
"""

from __future__ import annotations

import argparse
import inspect
import json
import statistics
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from assistant.app import Assistant, build_assistant
from assistant.config import Settings
from assistant.tokenize import tokenize
from assistant.types import Principal, SearchMode
from eval.bench import emit
from ingest.pipeline import Ingestor

ROOT = Path(__file__).resolve().parents[2]
MODES: tuple[SearchMode, ...] = ("lexical", "dense", "hybrid")
DEFAULT_QUESTIONS = (
    ROOT / "samples" / "questions.jsonl",
    ROOT.parent / "shared" / "eval" / "engdocs-dev.jsonl",
)


def _questions(paths: list[Path], limit: int) -> list[str]:
    out: list[str] = []
    for path in paths:
        if path.exists():
            lines = path.read_text(encoding="utf-8").splitlines()
            out.extend(json.loads(line)["question"] for line in lines if line.strip())
    return out[:limit]


def _ingest(assistant: Assistant, corpus: Path) -> None:
    if any(corpus.rglob("*.meta.yaml")):
        report = Ingestor(assistant).run([corpus])
    else:
        for folder in sorted(p for p in corpus.iterdir() if p.is_dir()):
            report = Ingestor(assistant).run([folder], acl=[folder.name])
    print(f"  {corpus.name}: {len(assistant.store.documents())} documents")
    del report


def _readers(assistant: Assistant) -> dict[str, Principal]:
    """A reader of everything and a reader of the largest group alone (when that is not everything)."""
    documents = [s.document for s in assistant.store.documents()]
    groups = sorted({g for d in documents for g in d.acl})
    readers = {"everything": Principal.of("all", groups)}
    largest = max(groups, key=lambda g: sum(g in d.acl for d in documents))
    if len(groups) > 1:
        readers[largest] = Principal.of("one", [largest])
    return readers


def _readable_rows(assistant: Assistant, principal: Principal) -> np.ndarray:
    acl = {s.document.doc_id: s.document.acl for s in assistant.store.documents()}
    rowids, doc_ids = assistant.store.row_documents()
    keep = np.asarray([not acl.get(d, frozenset()).isdisjoint(principal.groups) for d in doc_ids], dtype=bool)
    return np.sort(np.asarray(rowids, dtype=np.int64)[keep])


def _timed(fn: Any, repeat: int) -> float:
    """The median wall time of ``fn()`` in milliseconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered), 3), "p95_ms": round(p95, 3)}


def bench(
    corpus: Path, home: Path, questions: list[str], repeat: int, modes: tuple[SearchMode, ...] = MODES
) -> dict[str, Any]:
    assistant = build_assistant(Settings(home=home, _env_file=None))  # type: ignore[call-arg]
    try:
        _ingest(assistant, corpus)
        retriever = assistant.retriever
        retriever.search("warm up", Principal.of("warm", ["public"]), k=5)  # load or rebuild the indexes
        lexical = assistant.embedded_indexes().current().lexical
        partitioned = "population" in inspect.signature(lexical.search).parameters
        out: dict[str, Any] = {"chunks": len(lexical), "documents": len(assistant.store.documents())}
        for name, principal in _readers(assistant).items():
            rows = _readable_rows(assistant, principal)
            allowed = None if len(rows) == len(lexical) else rows
            result: dict[str, Any] = {"readable_chunks": len(rows)}
            for mode in modes:
                times = [
                    _timed(partial(retriever.search, q, principal, k=10, mode=mode), repeat)
                    for q in questions
                ]
                result[f"search_{mode}"] = _summary(times)
            times = [_timed(partial(lexical.search, q, 100, allowed), repeat) for q in questions]
            result["bm25_corpus_statistics"] = _summary(times)
            if partitioned:
                times = [
                    _timed(partial(lexical.search, q, 100, allowed, population=allowed), repeat)
                    for q in questions
                ]
                result["bm25_reader_statistics"] = _summary(times)
            out[name] = result
        return out
    finally:
        assistant.close()


def _bm25s_search(model: Any, rows: np.ndarray, query: str, k: int, allowed: np.ndarray | None) -> np.ndarray:
    """What the lexical index did before: bm25s's scores of every row, then a mask, then the top ``k``."""
    tokens = [t for t in tokenize(query) if t in model.vocab_dict]
    if not tokens:
        return rows[:0]
    scores = np.asarray(model.get_scores(tokens), dtype=np.float32)
    if allowed is not None:
        scores = np.where(np.isin(rows, allowed), scores, 0.0)
    candidates = np.flatnonzero(scores > 0)
    if len(candidates) > k:
        candidates = candidates[np.argpartition(-scores[candidates], k - 1)[:k]]
    return rows[candidates[np.argsort(-scores[candidates], kind="stable")]]


def bench_lexical(home: Path, questions: list[str], repeat: int) -> dict[str, Any]:
    import bm25s

    from assistant.index.lexical import Bm25Index

    assistant = build_assistant(Settings(home=home, _env_file=None))  # type: ignore[call-arg]
    try:
        table = assistant.store.index_rows()
        rows = np.asarray(table.rowids, dtype=np.int64)
        started = time.perf_counter()
        model = bm25s.BM25(k1=1.2, b=0.75)
        model.index([tokenize(p) for p in table.passages], show_progress=False)
        before_build = time.perf_counter() - started
        started = time.perf_counter()
        index = Bm25Index.build(rows, table.passages)
        after_build = time.perf_counter() - started
        out: dict[str, Any] = {
            "chunks": len(rows),
            "build_s": {"bm25s": round(before_build, 2), "postings": round(after_build, 2)},
        }
        for name, principal in _readers(assistant).items():
            readable = _readable_rows(assistant, principal)
            allowed = None if len(readable) == len(rows) else readable
            result: dict[str, Any] = {"readable_chunks": len(readable)}
            timed: dict[str, Any] = {
                "before_bm25s_corpus_statistics": partial(_bm25s_search, model, rows),
                "after_corpus_statistics": partial(index.search, population=None),
                "after_reader_statistics": partial(index.search, population=allowed),
            }
            for label, search in timed.items():
                if label == "after_corpus_statistics" and allowed is None:
                    continue  # the same as reader statistics for a reader of everything
                times = [_timed(partial(search, q, 100, allowed), repeat) for q in questions]
                result[label] = _summary(times)
            out[name] = result
        return out
    finally:
        assistant.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="eka search latency with per-reader BM25 statistics")
    parser.add_argument("corpora", type=Path, nargs="+")
    parser.add_argument("--home", type=Path, required=True, help="stores go to HOME/<corpus name>")
    parser.add_argument(
        "--questions", type=Path, action="append", help="QA files whose questions are queries"
    )
    parser.add_argument("--limit", type=int, default=40, help="queries at most")
    parser.add_argument("--repeat", type=int, default=3, help="timings per query (the median counts)")
    parser.add_argument("--lexical-only", action="store_true", help="time the lexical index alone")
    parser.add_argument(
        "--modes", default=",".join(MODES), help="search modes to time, comma-separated (default: all three)"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    questions = _questions(args.questions or list(DEFAULT_QUESTIONS), args.limit)
    results = {"queries": len(questions), "repeat": args.repeat}
    for corpus in args.corpora:
        if args.lexical_only:
            results[corpus.name] = bench_lexical(args.home / corpus.name, questions, args.repeat)
        else:
            modes = tuple(m for m in MODES if m in args.modes.split(","))
            results[corpus.name] = bench(
                corpus.resolve(), args.home / corpus.name, questions, args.repeat, modes
            )
    emit(results, args.out)


if __name__ == "__main__":
    main()
