"""Compaction benchmark: what folding a full delta into the base costs, on a store of `eka bench scale`.

On the store of ``--size`` chunks under ``--work`` (built by ``eka bench scale``; this run adds documents to
it), ingests ``--documents`` more synthetic documents (100 chunks each: enough to pass the compaction size),
then measures, while the background compaction runs: its duration, the process's peak resident memory
against the steady state before, and the latency of default searches (a reader of everything) running
meanwhile, against the same searches before.

Usage:
    python -m eval.bench.compaction --work /tmp/eka-scale --size 1000000 --documents 201 [--out FILE]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from pathlib import Path
from typing import Any

from assistant.app import build_assistant
from assistant.config import Settings
from eval.bench import emit
from eval.bench.scale import (
    READERS,
    PoolEmbedder,
    default_pool,
    load_pool,
    peak_rss,
    questions,
    rss_mb,
    write_document,
)
from ingest.pipeline import Ingestor


def _latencies(search: Any, asked: list[str], until: threading.Event | None = None) -> list[float]:
    took = []
    n = 0
    while (until is None and n < len(asked)) or (until is not None and not until.is_set()):
        started = time.perf_counter()
        search(asked[n % len(asked)])
        took.append(time.perf_counter() - started)
        n += 1
    return took


def run(work: Path, size: int, documents: int) -> dict[str, Any]:
    """Add ``documents`` documents to the store of ``size`` chunks and measure the compaction they cause."""
    settings = Settings(home=work / str(size) / "eka", _env_file=None)  # type: ignore[call-arg]
    embedder = PoolEmbedder(settings)
    pool = embedder.pool = load_pool(default_pool(), work, embedder)
    assistant = build_assistant(settings, embedder)
    try:
        asked = questions(40)
        reader = READERS["100%"]

        def search(question: str) -> None:
            assistant.retriever.search(question, reader, 10)

        assistant.embedded_indexes().current()
        _latencies(search, asked)  # warm: model, caches
        before = _latencies(search, asked)
        steady = rss_mb()
        folder = work / str(size) / f"compaction-{time.time_ns()}"
        first = size // 100 + 1000 * (1 + time.time_ns() % 900)  # new document numbers on every run
        for doc_no in range(first, first + documents):
            write_document(folder, pool, doc_no)
        compactions = assistant.embedded_indexes().compactions
        with peak_rss() as memory:
            started = time.perf_counter()
            report = Ingestor(assistant).run([folder])
            ingested = time.perf_counter() - started
            done = threading.Event()
            during: list[float] = []
            searcher = threading.Thread(target=lambda: during.extend(_latencies(search, asked, done)))
            searcher.start()
            started = time.perf_counter()
            assistant.embedded_indexes().settle()
            compaction = time.perf_counter() - started
            done.set()
            searcher.join()
        ordered = sorted(during)
        return {
            "size": size,
            "documents_added": documents,
            "chunks_added": report.counts()["chunks"],
            "ingest_seconds": round(ingested, 1),
            "compactions_run": assistant.embedded_indexes().compactions - compactions,
            "compaction_seconds_after_ingest": round(compaction, 1),
            "steady_rss_mb": round(steady),
            "peak_rss_mb": round(memory["peak_mb"]),
            "peak_over_steady": round(memory["peak_mb"] / steady, 2),
            "search_p50_ms_before": round(statistics.median(before) * 1000, 1),
            "search_p50_ms_during": round(statistics.median(during) * 1000, 1) if during else None,
            "search_max_ms_during": round(ordered[-1] * 1000, 1) if ordered else None,
            "searches_during": len(during),
        }
    finally:
        assistant.close()


def main() -> None:
    """Run the benchmark and print (and optionally write) the result as JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--documents", type=int, default=201)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    emit([run(args.work, args.size, args.documents)], args.out)


if __name__ == "__main__":
    main()
