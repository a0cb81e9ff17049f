"""Hybrid search on a `eka bench scale --backend postgres` database with its lexical half on a second
connection (PgView.hybrid) against one after the other, alternating per question so both see the same
machine (docs/scale.md, "Both halves at once").

    PYTHONPATH=. python scripts/pg_parallel_timing.py 1000000 [--work /tmp/eka-scale] [--rounds 2]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from assistant.app import build_assistant
from assistant.config import Settings
from assistant.pg.search import PgSearcher
from eval.bench.scale import READERS, questions
from eval.pg import eval_database


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("chunks", type=int)
    parser.add_argument("--work", type=Path, default=Path("/tmp/eka-scale"))
    parser.add_argument("--queries", type=int, default=78)
    parser.add_argument("--rounds", type=int, default=2, help="passes over the questions (the first warms)")
    args = parser.parse_args()
    url = eval_database(args.work, f"scale-{args.chunks}")
    home = args.work / f"{args.chunks}-postgres" / "eka"
    assistant = build_assistant(Settings(home=home, database_url=url, _env_file=None))  # type: ignore[call-arg]
    searcher = assistant.searcher
    assert isinstance(searcher, PgSearcher)
    parallel_rows = searcher.params.parallel_rows
    asked = questions(args.queries)
    took: dict[tuple[str, str], list[float]] = {}
    for round_no in range(args.rounds):
        for number, question in enumerate(asked):
            for reader, principal in READERS.items():
                variants = [("parallel", parallel_rows), ("sequential", 2**62)]
                for label, rows in variants[:: 1 if number % 2 else -1]:  # each goes first half the time
                    searcher.params = replace(searcher.params, parallel_rows=rows)
                    assistant.embedder.forget_queries()  # type: ignore[attr-defined]
                    started = time.perf_counter()
                    assistant.retriever.search(question, principal, 10, "hybrid")
                    if round_no:
                        took.setdefault((reader, label), []).append((time.perf_counter() - started) * 1000)
    for (reader, label), times in sorted(took.items()):
        p50, p95 = np.percentile(times, 50), np.percentile(times, 95)
        print(f"hybrid {reader:>4} {label:10} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  ({len(times)} searches)")
    assistant.close()


if __name__ == "__main__":
    main()
