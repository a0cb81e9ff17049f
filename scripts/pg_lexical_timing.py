"""BM25 alone on a `eka bench scale --backend postgres` database: the SQL aggregate against the packed
postings, for a reader of every access list (docs/scale.md, "Packed postings").

    PYTHONPATH=. python scripts/pg_lexical_timing.py 1000000 [--work /tmp/eka-scale] [--sql]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from assistant.pg.db import shared
from assistant.pg.search import PgSearcher, PgSearchParams
from eval.bench.scale import questions
from eval.pg import eval_database


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("chunks", type=int)
    parser.add_argument("--work", type=Path, default=Path("/tmp/eka-scale"))
    parser.add_argument("--sql", action="store_true", help="also time the SQL aggregate (slow at 1M)")
    parser.add_argument("--queries", type=int, default=40)
    args = parser.parse_args()
    db = shared(eval_database(args.work, f"scale-{args.chunks}"))
    with db.connection() as conn:
        row = conn.execute("SELECT model_id FROM store_state").fetchone()
        groups = frozenset(g for (acl,) in conn.execute("SELECT groups FROM acls") for g in acl)
    model = row[0] if row else ""
    asked = questions(args.queries)
    variants = [("packed", PgSearchParams()), ("packed", PgSearchParams())]  # the second run: warm cache
    if args.sql:
        variants.insert(0, ("sql", PgSearchParams(pack_rows=2**62)))
    for label, params in variants:
        searcher = PgSearcher(db, 384, model, lambda texts: None, params)  # type: ignore[arg-type,return-value]
        times = []
        for question in asked:
            started = time.perf_counter()
            with searcher.view(groups, {}) as view:
                view.lexical(question, 100)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p50, p95 = times[len(times) // 2], times[min(len(times) - 1, int(0.95 * len(times)))]
        print(f"{label:7} p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {times[-1]:.1f} ms")


if __name__ == "__main__":
    main()
