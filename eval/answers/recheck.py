"""Re-score the LLM answers of an ``eka eval answers`` run with the current post-checks, without the model.

The local model answers greedily (temperature 0), so the text it wrote for a prompt is in the run's
provenance (``audit.sqlite3``: the answer, or ``postcheck.model_answer`` when the post-checks changed it).
This re-applies :mod:`assistant.citations` and :mod:`assistant.postcheck` of the working tree to that text,
with the sources the run recorded, and scores the result the way the run did. It measures what a post-check
buys on answers that took minutes each to generate::

    python -m eval.answers.recheck OUT --store EVAL_CACHE/.../eka.sqlite3 --questions samples/questions.jsonl
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from pathlib import Path
from typing import Any

from assistant.citations import check
from assistant.postcheck import review
from assistant.sqlite_store import SQLiteStore
from assistant.store import Store
from assistant.types import Hit
from eval.answers.keyfacts import document_labels, load_annotations
from eval.answers.score import CitedSource, judge, summarise
from eval.datasets import load_qa


def recheck(
    out: Path, store: Store, questions: Path, generator: str, threshold: float
) -> list[dict[str, Any]]:
    """The run's rows of ``generator`` with each recorded answer post-checked and scored again."""
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    items = {i.qid: i for i in load_qa(questions)}
    notes = load_annotations(questions)
    db = sqlite3.connect(f"file:{out / 'audit.sqlite3'}?mode=ro", uri=True)
    try:
        records = [json.loads(r[0]) for r in db.execute("SELECT record FROM provenance ORDER BY seq")]
    finally:
        db.close()
    latest = {r["question"]: r for r in records if r.get("error") is None}
    rows = []
    for row in report["generators"][generator]["questions"]:
        item, record = items[row["qid"]], latest[row["question"]]
        hits = [
            Hit(
                next(c for c in store.chunks_of(h["doc_id"]) if c.chunk_id == h["chunk_id"]),
                h["score"],
                h["rank"],
                h["retriever"],
                store.document(h["doc_id"]),
            )
            for h in record["hits"]
        ]
        text = (record.get("postcheck") or {}).get("model_answer") or record["answer"]
        early = record["refused"] and not (record.get("postcheck") or {}).get("model_answer")
        checked = check(text, hits, threshold, attach=True)
        result = review(record["rewritten_query"], early, checked, hits, threshold, generator)
        cited = [
            CitedSource(document_labels(hit.document), f"{hit.chunk.section or ''}\n{hit.chunk.text}")
            for hit in (hits[c.marker - 1] for c in result.checked.citations)
        ]
        verdict = judge(notes[item.qid], item.answerable, result.checked.text, result.refused, cited)
        rows.append(
            {
                **row,
                "outcome": verdict.outcome,
                "wrong_entity": verdict.wrong_entity,
                "answer": result.checked.text,
                "postcheck": list(result.notes),
            }
        )
    return rows


def main() -> None:
    """Print each question's outcome before and after, and the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the --out folder of an eka eval answers run")
    parser.add_argument("--store", type=Path, required=True, help="the eval cache's eka.sqlite3 of that run")
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--generator", default="local")
    parser.add_argument("--threshold", type=float, default=0.5, help="citation support threshold")
    args = parser.parse_args()
    before = json.loads((args.out / "report.json").read_text(encoding="utf-8"))["generators"][args.generator]
    outcome = {r["qid"]: r["outcome"] for r in before["questions"]}
    store = SQLiteStore(args.store)
    try:
        rows = recheck(args.out, store, args.questions, args.generator, args.threshold)
    finally:
        store.close()
    for row in rows:
        print(f"{row['qid']} {outcome[row['qid']]} -> {row['outcome']} {row['postcheck']}")
    print(json.dumps(summarise(rows), indent=1))


if __name__ == "__main__":
    main()
