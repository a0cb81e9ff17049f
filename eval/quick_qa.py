"""A quick retrieval check over a QA set: which questions get a relevant hit in the top k.

Relevance: the hit's document matches and, for a PDF, its page matches; for other formats its section heading
matches or it contains the evidence snippet (or its first or last half), compared after NFKC and whitespace
collapsing. The full harness (``eka eval``) comes with issue 3; this is the script behind the foundation's
closing-note numbers.

Usage: python -m eval.quick_qa QUESTIONS.jsonl [--k 5]   (with EKA_HOME pointing at an ingested store)
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import unicodedata
from pathlib import Path
from typing import Any

from assistant.app import build_assistant
from assistant.config import Settings
from assistant.types import Hit, Principal, SearchMode, section_heading


def norm(text: str) -> str:
    """NFKC and collapsed whitespace (also ignoring whitespace entirely for DOCX-style stray spaces)."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def relevant(hit: Hit, entry: dict[str, Any]) -> bool:
    """Whether a hit answers one ``relevant`` entry of a question."""
    if hit.document.source != entry["doc"]:
        return False
    if entry.get("page") is not None:
        return hit.chunk.page == entry["page"]
    heading = section_heading(hit.chunk.section)
    if (
        entry.get("section")
        and heading
        and norm(heading).replace(" ", "") == norm(entry["section"]).replace(" ", "")
    ):
        return True
    text, evidence = norm(hit.chunk.text), norm(entry.get("evidence") or "")
    if not evidence:
        return False
    half = len(evidence) // 2
    return evidence in text or evidence[:half] in text or evidence[half:] in text


def answered(hits: list[Hit], question: dict[str, Any]) -> bool:
    """With ``match: any`` one relevant entry in ``hits`` suffices; with ``all`` every entry must be there."""
    found = [any(relevant(h, e) for h in hits) for e in question["relevant"]]
    return all(found) if question.get("match") == "all" else any(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--groups", default="public")
    args = parser.parse_args()
    questions = [json.loads(line) for line in args.questions.read_text().splitlines() if line.strip()]
    answerable = [q for q in questions if q.get("answerable", True)]
    assistant = build_assistant(Settings())
    principal = Principal.of("eval", args.groups.split(","))
    assistant.retriever.search("warm up", principal, k=1)
    results: dict[str, Any] = {"questions": len(answerable), "k": args.k}
    modes: tuple[SearchMode, ...] = ("dense", "lexical", "hybrid")
    for mode in modes:
        latencies, at1, atk, misses = [], 0, 0, []
        for q in answerable:
            started = time.perf_counter()
            hits = assistant.retriever.search(q["question"], principal, k=max(args.k, 10), mode=mode)
            latencies.append((time.perf_counter() - started) * 1000)
            at1 += answered(hits[:1], q)
            if answered(hits[: args.k], q):
                atk += 1
            else:
                misses.append(q["id"])
        latencies.sort()
        results[mode] = {
            "recall@1": round(at1 / len(answerable), 3),
            f"recall@{args.k}": round(atk / len(answerable), 3),
            f"top{args.k}": f"{atk}/{len(answerable)}",
            "latency_ms_p50": round(statistics.median(latencies), 1),
            "latency_ms_p95": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
            "misses": misses,
        }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
