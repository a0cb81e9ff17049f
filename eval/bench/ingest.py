"""Ingest and search benchmark: the foundation's numbers on a real corpus.

Measures, on a fresh store: first ingest (wall time, pages/s, chunks/s), the raw ``encode`` throughput of the
same model on the same chunk texts (to show the pipeline's overhead), re-ingest of the unchanged corpus, and
search latency p50/p95 plus top-1/top-5 page hits over a QA set for dense, lexical and hybrid first stages
(no reranker) and for the shipped default (``EKA_*`` settings: hybrid + one chunk per page, no reranker).

Usage:
    python -m eval.bench.ingest ../shared/data/engineering-docs --questions ../shared/eval/engdocs-dev.jsonl
Settings (chunk size etc.) come from the usual ``EKA_*`` variables; ``--out`` writes the JSON.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from assistant.app import Assistant, build_assistant
from assistant.config import Settings
from assistant.types import Principal, SearchMode
from eval.bench import emit
from eval.datasets import load_qa
from eval.qa import EvalHit, answered_at, judge
from ingest.pipeline import Ingestor


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(corpus: Path, questions: Path | None, home: Path) -> dict[str, Any]:
    settings = Settings(home=home)
    assistant = build_assistant(settings)
    started = time.perf_counter()
    first = Ingestor(assistant).run([corpus])
    first_s = time.perf_counter() - started
    counts = first.counts()

    rows = assistant.store.index_rows()
    started = time.perf_counter()
    assistant.embedder.embed_passages(rows.passages)
    encode_s = time.perf_counter() - started

    started = time.perf_counter()
    again = Ingestor(assistant).run([corpus])
    reingest_s = time.perf_counter() - started

    result: dict[str, Any] = {
        "corpus": str(corpus),
        "settings": {
            "chunk_tokens": settings.chunk_tokens,
            "chunk_overlap_tokens": settings.chunk_overlap_tokens,
            "model": assistant.spec.model_id,
            "parse_workers": settings.parse_workers,
        },
        "first_ingest": {
            "wall_s": round(first_s, 1),
            "files": len(first.files),
            "failed": counts["failed"],
            "pages": counts["pages"],
            "chunks": counts["chunks"],
            "embedded": counts["embedded"],
            "pages_per_s": round(counts["pages"] / first_s, 2),
            "chunks_per_s": round(counts["chunks"] / first_s, 2),
            "parse_s": round(first.parse_s, 1),
            "embed_s": round(first.embed_s, 1),
            "index_s": round(first.index_s, 2),
        },
        "raw_encode": {
            "passages": len(rows.passages),
            "wall_s": round(encode_s, 1),
            "passages_per_s": round(len(rows.passages) / encode_s, 2),
        },
        "reingest_unchanged": {
            "wall_s": round(reingest_s, 3),
            "unchanged": again.counts()["unchanged"],
            "embedded": again.counts()["embedded"],
            "ratio_to_first": round(reingest_s / first_s, 5),
        },
    }
    if questions is not None:
        answerable = [q for q in load_qa(questions) if q.answerable and q.relevant]
        principal = Principal.of("bench", ["public"])
        plain = build_assistant(settings.model_copy(update={"reranker": "none"}), embedder=assistant.embedder)
        runs: list[tuple[str, Assistant, SearchMode]] = [
            ("dense", plain, "dense"),
            ("lexical", plain, "lexical"),
            ("hybrid", plain, "hybrid"),
            ("default", assistant, settings.search_mode),
        ]
        for name, system, mode in runs:
            system.retriever.search("warm up", principal, k=1, mode=mode)
            latencies, top1, top5 = [], 0, 0
            for q in answerable:
                t = time.perf_counter()
                hits = system.retriever.search(q.question, principal, k=10, mode=mode)
                latencies.append((time.perf_counter() - t) * 1000)
                labels = judge(q, [EvalHit.of(h) for h in hits])
                top1 += answered_at(q, labels, 1)
                top5 += answered_at(q, labels, 5)
            result[f"search_{name}"] = {
                "questions": len(answerable),
                "top1": top1,
                "top5": top5,
                "recall@1": round(top1 / len(answerable), 3),
                "recall@5": round(top5 / len(answerable), 3),
                "latency_ms_p50": round(statistics.median(latencies), 1),
                "latency_ms_p95": round(_percentile(latencies, 0.95), 1),
            }
        plain.close()
    assistant.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="eka ingest and search benchmark")
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--questions", type=Path)
    parser.add_argument("--home", type=Path, help="a fresh EKA_HOME (default: a temporary folder)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="eka-bench-") as tmp:
        result = run(args.corpus, args.questions, args.home or Path(tmp))
    emit(result, args.out)


if __name__ == "__main__":
    main()
