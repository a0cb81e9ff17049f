"""Evaluation datasets: BEIR-format retrieval sets and QA sets in the engdocs-dev format."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class CorpusDoc:
    """One BEIR corpus entry."""

    doc_id: str
    title: str
    text: str


@dataclass
class BeirDataset:
    """A corpus, queries and graded relevance judgements for one split."""

    name: str
    corpus: list[CorpusDoc]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    split: str
    sha256: str = ""

    def judged_queries(self) -> dict[str, str]:
        """Queries that have at least one relevant document in this split."""
        return {q: t for q, t in self.queries.items() if any(v > 0 for v in self.qrels.get(q, {}).values())}


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _first(folder: Path, *patterns: str) -> Path:
    for pattern in patterns:
        found = sorted(folder.glob(pattern))
        if found:
            return found[0]
    raise FileNotFoundError(f"{folder}: none of {', '.join(patterns)}")


def load_beir(folder: Path, split: str = "test") -> BeirDataset:
    """Load a BEIR folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``).

    Also reads the E-Manual QA layout (``derived/*corpus.jsonl``, ``derived/qrels_*.tsv`` and queries with
    ``qid``/``question`` fields), where every question belongs to the single split.
    """
    base = (
        folder / "derived"
        if (folder / "derived").is_dir() and not (folder / "corpus.jsonl").exists()
        else folder
    )
    corpus_file = _first(base, "corpus.jsonl", "*corpus*.jsonl")
    qrels_file = base / "qrels" / f"{split}.tsv"
    if not qrels_file.exists():
        qrels_file = _first(base, "qrels*.tsv", "qrels/*.tsv")
    queries_file = _first(base, "queries.jsonl", "*qa*.jsonl", "*queries*.jsonl")
    corpus = [
        CorpusDoc(str(d["_id"]), str(d.get("title") or ""), str(d.get("text") or ""))
        for d in _jsonl(corpus_file)
    ]
    queries = {}
    for q in _jsonl(queries_file):
        qid = str(q.get("_id", q.get("qid")))
        queries[qid] = str(q.get("text", q.get("question", "")))
    qrels: dict[str, dict[str, int]] = {}
    with qrels_file.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            qrels.setdefault(str(row["query-id"]), {})[str(row["corpus-id"])] = int(row["score"])
    digest = hashlib.sha256()
    for path in (corpus_file,):
        digest.update(path.read_bytes())
    return BeirDataset(
        folder.name,
        corpus,
        {q: t for q, t in queries.items() if q in qrels},
        qrels,
        split,
        digest.hexdigest(),
    )


@dataclass(frozen=True, slots=True)
class QAEntry:
    """Where a question's answer is: a document and, for PDFs, a page; else a section; plus evidence."""

    doc: str
    page: int | None
    section: str | None
    evidence: str | None


@dataclass
class QAItem:
    """A question of a QA set (engdocs-dev format)."""

    qid: str
    kind: str
    question: str
    answer: str
    answerable: bool
    match: str | None
    relevant: list[QAEntry] = field(default_factory=list)


def load_qa(path: Path) -> list[QAItem]:
    """Read a QA set in the engdocs-dev format."""
    items = []
    for q in _jsonl(path):
        items.append(
            QAItem(
                qid=str(q["id"]),
                kind=str(q.get("kind", "")),
                question=str(q["question"]),
                answer=str(q.get("answer", "")),
                answerable=bool(q.get("answerable", True)),
                match=q.get("match"),
                relevant=[
                    QAEntry(r["doc"], r.get("page"), r.get("section"), r.get("evidence"))
                    for r in q.get("relevant", [])
                ],
            )
        )
    return items
