"""Scoring one answer against its question's key facts, and summing the scores per kind.

Outcomes:

- ``refused``: the service refused (``AnswerResult.refused``). Right for an unanswerable question, a *false
  refusal* for an answerable one.
- ``correct``: an answerable question's answer states every key fact (one alternative of each, after
  normalisation, citation markers removed); ``partial``: some; ``wrong``: none. An answer to an unanswerable
  question is ``wrong``.
- ``error``: the generator failed (a timeout, a failed LLM call); never counted as correct.

*Wrong entity* (a flag beside the outcome): a question may name an entity (the vehicle, test, table row … it
asks about) and confusers (other entities of the same kind). An answer that is neither refused nor correct is
about the wrong entity when its text, or one of the sources it cites (the document's title and metadata with
the cited passage), names a confuser but not the entity: "230 ± 15 N·m" quoted from the Kestrel KV-4 table
for a question about the Tamsin TC-2, or the "RDX 2019-21" row for a question about the RDX 2022-24.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from assistant.citations import MARKER
from eval.answers.keyfacts import Annotation, found
from eval.answers.normalise import normalise

Outcome = Literal["correct", "partial", "wrong", "refused", "error"]
OUTCOMES: tuple[Outcome, ...] = ("correct", "partial", "wrong", "refused", "error")


@dataclass(frozen=True, slots=True)
class CitedSource:
    """A source an answer cites, as the entity check reads it."""

    labels: str  # the document's title and metadata values
    passage: str  # the cited chunk's section path and text


@dataclass(frozen=True, slots=True)
class Judgement:
    """How one answer stands against its annotation."""

    outcome: Outcome
    facts_found: tuple[bool, ...]
    wrong_entity: bool


def judge(
    note: Annotation, answerable: bool, text: str, refused: bool, cited: Sequence[CitedSource]
) -> Judgement:
    """Score one answer (see the module docstring for the outcomes and the wrong-entity rule).

    Example:
        >>> note = Annotation("s-022", (("230 ± 15 N·m",), ("TL-A",)))
        >>> judge(note, True, "Tighten to 230 +/- 15 Nm with TL-A [1].", False, []).outcome
        'correct'
    """
    if refused:
        return Judgement("refused", tuple(False for _ in note.facts), False)
    answer = normalise(MARKER.sub(" ", text))
    hits = tuple(found(answer, fact) for fact in note.facts)
    if not answerable or not any(hits):
        outcome: Outcome = "wrong"
    else:
        outcome = "correct" if all(hits) else "partial"
    return Judgement(outcome, hits, outcome != "correct" and _wrong_entity(note, answer, cited))


def _wrong_entity(note: Annotation, answer: str, cited: Sequence[CitedSource]) -> bool:
    texts = [answer, *(normalise(f"{c.labels} {c.passage}") for c in cited)]
    return any(found(t, note.confusers) and not found(t, note.entity) for t in texts)


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _counts(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    counts: dict[str, Any] = {"n": len(rows)}
    for outcome in OUTCOMES:
        counts[outcome] = sum(r["outcome"] == outcome for r in rows)
    counts["correct_rate"] = _share(counts["correct"], len(rows))
    return counts


def _kinds(rows: Sequence[dict[str, Any]]) -> list[str]:
    return sorted({r["kind"] for r in rows})


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Headline numbers and per-kind counts over scored rows (``outcome``, ``answerable``, ``kind``, …)."""
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    counts = _counts(answerable)
    latencies = [r["total_ms"] for r in rows if r.get("total_ms") is not None]
    refused_unanswerable = sum(r["outcome"] == "refused" for r in unanswerable)
    return {
        "answerable": len(answerable),
        "correct": counts["correct"],
        "partial": counts["partial"],
        "wrong": counts["wrong"],
        "false_refusals": counts["refused"],
        "errors": sum(r["outcome"] == "error" for r in rows),
        "correct_rate": _share(counts["correct"], len(answerable)),
        "partial_rate": _share(counts["partial"], len(answerable)),
        "wrong_rate": _share(counts["wrong"], len(answerable)),
        "false_refusal_rate": _share(counts["refused"], len(answerable)),
        "unanswerable": len(unanswerable),
        "refused_unanswerable": refused_unanswerable,
        "refusal_accuracy": _share(refused_unanswerable, len(unanswerable)),
        "wrong_entity": sum(bool(r.get("wrong_entity")) for r in rows),
        "wrong_entity_ids": [r["qid"] for r in rows if r.get("wrong_entity")],
        "latency_ms": {
            "p50": round(statistics.median(latencies), 1) if latencies else None,
            "p95": round(_percentile(latencies, 0.95), 1) if latencies else None,
        },
        "per_kind": {kind: _counts([r for r in rows if r["kind"] == kind]) for kind in _kinds(rows)},
    }
