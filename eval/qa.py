"""Judging retrieved passages against a QA set's answer locations (engdocs-dev format).

A passage is relevant to an entry when its document matches and, for a PDF, its page matches; for other
formats when its section heading matches or it contains the evidence snippet (or its first or last half, since
a chunk boundary may cut it), comparing after NFKC and whitespace collapsing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.types import Hit, section_heading
from eval.datasets import QAEntry, QAItem


@dataclass(frozen=True, slots=True)
class EvalHit:
    """One retrieved passage, as any system under evaluation returns it."""

    doc: str  # the document's source path (QA) or corpus id (BEIR)
    page: int | None
    section: str | None  # the innermost heading, if the system knows it
    text: str
    score: float
    chunk_id: str = ""

    @classmethod
    def of(cls, hit: Hit) -> EvalHit:
        """An eka hit as the harness sees it (the innermost heading stands for the section)."""
        return cls(
            hit.document.source,
            hit.chunk.page,
            section_heading(hit.chunk.section),
            hit.chunk.text,
            hit.score,
            hit.chunk.chunk_id,
        )


def norm(text: str) -> str:
    """NFKC, collapsed whitespace."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def _squash(text: str) -> str:
    return norm(text).replace(" ", "").casefold()


def is_relevant(hit: EvalHit, entry: QAEntry) -> bool:
    """Whether ``hit`` answers ``entry``."""
    if hit.doc != entry.doc:
        return False
    if entry.page is not None:
        return hit.page == entry.page
    if entry.section and hit.section and _squash(hit.section) == _squash(entry.section):
        return True
    if not entry.evidence:
        return False
    text, evidence = norm(hit.text), norm(entry.evidence)
    half = len(evidence) // 2
    return evidence in text or evidence[:half] in text or evidence[half:] in text


def targets(item: QAItem) -> list[str]:
    """Relevance targets: one for ``match: any`` (any entry will do), one per entry for ``all``."""
    if item.match == "all":
        return [f"{item.qid}#{i}" for i in range(len(item.relevant))]
    return [f"{item.qid}#any"]


def judge(item: QAItem, hits: Sequence[EvalHit]) -> list[str]:
    """Map a ranked hit list to target ids: the first hit that satisfies a target gets its id, every other hit
    a unique non-relevant id. This turns page/section relevance into a run ir-measures can score."""
    found: set[str] = set()
    out: list[str] = []
    for rank, hit in enumerate(hits):
        label = f"{item.qid}~{rank}"
        for i, entry in enumerate(item.relevant):
            target = f"{item.qid}#{i}" if item.match == "all" else f"{item.qid}#any"
            if target not in found and is_relevant(hit, entry):
                found.add(target)
                label = target
                break
        out.append(label)
    return out


def answered_at(item: QAItem, labels: Sequence[str], k: int) -> bool:
    """Recall@k for QA: all targets (``match: all``) or the one target (``any``) are in the top k."""
    top = set(labels[:k])
    return all(t in top for t in targets(item))
