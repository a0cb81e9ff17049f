"""Key facts: what a correct answer to a question must state, and the check that they come from its sources.

Each answerable question carries 1–3 *key facts*; a fact is a list of acceptable spellings (alternatives),
compared after :func:`~eval.answers.normalise.normalise`. A question may also name an *entity* (the vehicle,
program, test, row … it asks about, as alternatives) and *confusers* (other entities of the same kind an
answer could be about instead). The annotations sit in the QA file itself (``key_facts``, ``entity``,
``confusers`` on a question line) or in a side file of lines ``{"id": …, "key_facts": …}`` keyed by question
id, which wins (for sets the project may not edit, such as ``../shared/eval/engdocs-dev.jsonl``).

:func:`verify` holds the annotations to the documents: each fact must occur in the text eka ingested for a
page (PDF) or document named as the question's evidence, and the entity in each of them (title, metadata or
text), so facts cannot drift from what the sources say.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.pages import page_text
from assistant.store import Store
from assistant.types import Document
from eval.answers.normalise import contains, normalise
from eval.datasets import QAEntry, QAItem

__all__ = [
    "Annotation",
    "default_side_file",
    "document_labels",
    "found",
    "load_annotations",
    "source_text",
    "verify",
]

MAX_FACTS = 3
SIDE_FILES = Path(__file__).resolve().parent.parent / "data"


@dataclass(frozen=True, slots=True)
class Annotation:
    """What a correct answer to one question states, and whom it is about."""

    qid: str
    facts: tuple[tuple[str, ...], ...] = ()
    entity: tuple[str, ...] = ()
    confusers: tuple[str, ...] = ()


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(s, str) and s.strip() for s in value):
        raise ValueError(f"{where}: expected a non-empty list of non-empty strings, got {value!r}")
    return tuple(value)


def _parse(record: dict[str, Any], where: str) -> Annotation:
    facts = record.get("key_facts", [])
    if not isinstance(facts, list):
        raise ValueError(f"{where}: key_facts must be a list of lists of strings")
    return Annotation(
        str(record["id"]),
        tuple(_strings(f, f"{where} key_facts[{i}]") for i, f in enumerate(facts)),
        _strings(record["entity"], f"{where} entity") if "entity" in record else (),
        _strings(record["confusers"], f"{where} confusers") if "confusers" in record else (),
    )


def _lines(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                yield n, json.loads(line)


def default_side_file(questions: Path) -> Path | None:
    """The project's side file for a QA set (``eval/data/<stem>.keyfacts.jsonl``), if there is one."""
    path = SIDE_FILES / f"{questions.stem}.keyfacts.jsonl"
    return path if path.exists() else None


def load_annotations(questions: Path, side_file: Path | None = None) -> dict[str, Annotation]:
    """Annotations by question id: those inline in ``questions``, replaced by those of ``side_file``.

    Raises:
        ValueError: a malformed annotation, or a side-file id that is not in ``questions``.
    """
    out: dict[str, Annotation] = {}
    ids = set()
    for n, record in _lines(questions):
        ids.add(str(record["id"]))
        if any(k in record for k in ("key_facts", "entity", "confusers")):
            out[str(record["id"])] = _parse(record, f"{questions.name}:{n}")
    if side_file is not None:
        for n, record in _lines(side_file):
            where = f"{side_file.name}:{n}"
            if str(record.get("id")) not in ids:
                raise ValueError(f"{where}: question id {record.get('id')!r} is not in {questions.name}")
            out[str(record["id"])] = _parse(record, where)
    return out


@dataclass(frozen=True, slots=True)
class SourceText:
    """What eka ingested for one evidence entry: the page (PDF) or document text and its labels."""

    text: str  # normalised
    labels: str  # normalised title and metadata values


def document_labels(document: Document) -> str:
    """What a document says about itself: its title and metadata values (brand, program, …)."""
    return " ".join([document.title, *(str(v) for v in document.metadata.values())])


def source_text(store: Store, entry: QAEntry) -> SourceText | None:
    """The ingested text of the page (PDF) or the whole document an evidence entry names; None if absent."""
    stored = store.document_by_source(entry.doc)
    if stored is None:
        return None
    document = stored.document
    page = page_text(store.chunks_of(document.doc_id), entry.page or 1)
    if page is None:
        return None
    return SourceText(normalise(page.text), normalise(document_labels(document)))


def found(text: str, alternatives: Sequence[str]) -> bool:
    """Whether any alternative occurs in the normalised ``text``."""
    return any(contains(text, normalise(a)) for a in alternatives)


def verify(store: Store, items: Sequence[QAItem], annotations: dict[str, Annotation]) -> list[str]:
    """Every way the annotations disagree with the questions or the ingested sources, as readable lines.

    Each answerable question needs 1–``MAX_FACTS`` facts, each found (one of its alternatives, normalised) in
    the ingested text of at least one of its evidence pages/documents; an entity must be named by every
    evidence document (title, metadata or that page's text); unanswerable questions carry no facts.
    """
    problems = []
    for item in items:
        note = annotations.get(item.qid, Annotation(item.qid))
        if not item.answerable:
            if note.facts:
                problems.append(f"{item.qid}: unanswerable but has key facts")
            continue
        if not 1 <= len(note.facts) <= MAX_FACTS:
            problems.append(f"{item.qid}: {len(note.facts)} key facts (1-{MAX_FACTS} needed)")
        sources = []
        for entry in item.relevant:
            text = source_text(store, entry)
            if text is None:
                problems.append(f"{item.qid}: {entry.doc} page {entry.page} is not in the ingested corpus")
            else:
                sources.append((entry, text))
        for fact in note.facts:
            if sources and not any(found(s.text, fact) for _, s in sources):
                problems.append(f"{item.qid}: key fact {list(fact)} is not in {_where(item.relevant)}")
        if note.entity:
            for entry, s in sources:
                if not found(f"{s.labels} {s.text}", note.entity):
                    named = f"entity {list(note.entity)} is not named by {_where([entry])}"
                    problems.append(f"{item.qid}: {named}")
        clash = {normalise(c) for c in note.confusers} & {normalise(e) for e in note.entity}
        if clash:
            problems.append(f"{item.qid}: {sorted(clash)} is both the entity and a confuser")
    known = {item.qid for item in items}
    problems += [f"{qid}: annotated but not a question of the set" for qid in annotations if qid not in known]
    return problems


def _where(entries: Sequence[QAEntry]) -> str:
    return " or ".join(f"{e.doc}" + (f" page {e.page}" if e.page else "") for e in entries)
