"""Scoring answers by key facts: correct / partial / wrong / refused, wrong entity, the per-kind summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eval.answers.keyfacts import Annotation, load_annotations
from eval.answers.score import CitedSource, judge, summarise

KV4, OTHERS = ("KV-4", "Kestrel"), ("TC-2", "AU-E7")
TORQUE = Annotation("s-022", (("230 ± 15 N·m", "230 ± 15"), ("TL-A",)), KV4, OTHERS)
KV4_TABLE = CitedSource("Torque Specification Tables - Kestrel KV-4 Kestrel KV-4", "B-01 230 ± 15 - TL-A")
TC2_BULLETIN = CitedSource("SB-TC2-24-031 Tamsin TC-2", "Wheel nuts: 140 ± 10 N·m.")


def test_an_answer_with_every_key_fact_is_correct() -> None:
    answer = "Tighten to 230 +/- 15 Nm [1] with TL-A thread-locker [1]."
    verdict = judge(TORQUE, True, answer, False, [KV4_TABLE])
    assert verdict.outcome == "correct"
    assert verdict.facts_found == (True, True)
    assert not verdict.wrong_entity


def test_an_answer_with_some_key_facts_is_partial() -> None:
    verdict = judge(TORQUE, True, "The carrier bolts take 230 ± 15 N·m [1].", False, [KV4_TABLE])
    assert verdict.outcome == "partial"
    assert verdict.facts_found == (True, False)


def test_an_answer_without_key_facts_is_wrong() -> None:
    assert judge(TORQUE, True, "Use a torque wrench [1].", False, [KV4_TABLE]).outcome == "wrong"


def test_citation_markers_do_not_split_a_fact() -> None:
    note = Annotation("s-014", (("C1A27-54",),))
    assert judge(note, True, "The module sets C1A27-54[2].", False, []).outcome == "correct"


def test_a_refusal_is_refused_whatever_the_text() -> None:
    verdict = judge(TORQUE, True, "I don't know: 230 ± 15 N·m TL-A", True, [])
    assert verdict.outcome == "refused"
    assert not verdict.wrong_entity


def test_an_answer_to_an_unanswerable_question_is_wrong() -> None:
    note = Annotation("s-035", (), ("TC-2", "Tamsin"))
    assert judge(note, False, "Wheel nuts: 140 ± 10 N·m [1].", False, [TC2_BULLETIN]).outcome == "wrong"


def test_an_answer_that_cites_a_source_about_another_entity_is_wrong_entity() -> None:
    note = Annotation("s-035", (), ("TC-2", "Tamsin"), ("KV-4", "Kestrel"))
    sources = [KV4_TABLE, TC2_BULLETIN]  # the value is from the KV-4 table; the bulletin is cited beside it
    verdict = judge(note, False, "Wheel nuts: 230 ± 15 N·m [1]. Tamsin TC-2 bulletin [2].", False, sources)
    assert verdict.wrong_entity


def test_an_answer_that_names_a_confuser_instead_of_the_entity_is_wrong_entity() -> None:
    note = Annotation("dev-006", (("Dashcam mode",),), ("RDX 2022-24",), ("RDX 2019-21",))
    rows = "|Acura|RDX 2019-21|All|[Upstream](#upstream)| |Acura|RDX 2022-24|All|[Dashcam mode](#dashcam)|"
    table = CitedSource("opendbc CARS", rows)
    verdict = judge(note, True, "|Acura|RDX 2019-21|All|[Upstream](#upstream)| [1]", False, [table])
    assert verdict.outcome == "wrong"
    assert verdict.wrong_entity


def test_an_answer_about_the_right_entity_is_not_wrong_entity_even_when_wrong() -> None:
    verdict = judge(TORQUE, True, "The KV-4 uses a torque wrench [1].", False, [KV4_TABLE])
    assert verdict.outcome == "wrong"
    assert not verdict.wrong_entity


def test_a_source_that_names_both_entities_is_not_about_the_wrong_one() -> None:
    scope = CitedSource("Brake System Design Specification AU-E7", "The Kestrel KV-4 is out of scope.")
    assert not judge(TORQUE, True, "Separate specifications apply [1].", False, [scope]).wrong_entity


def test_an_entity_without_confusers_never_makes_an_answer_wrong_entity() -> None:
    note = Annotation("dev-031", (), ("Camry",))
    assert not judge(note, False, "Tighten to 103 N·m [1].", False, [KV4_TABLE]).wrong_entity


def test_a_correct_answer_is_never_wrong_entity() -> None:
    assert not judge(TORQUE, True, "230 ± 15 N·m, TL-A [1].", False, [KV4_TABLE, TC2_BULLETIN]).wrong_entity


def test_a_question_without_an_entity_is_never_wrong_entity() -> None:
    note = Annotation("s-018", (("U0121",),))
    assert not judge(note, True, "Check the CAN bus [1].", False, []).wrong_entity


def row(qid: str, kind: str, outcome: str, answerable: bool = True, **extra: Any) -> dict[str, Any]:
    return {"qid": qid, "kind": kind, "outcome": outcome, "answerable": answerable, **extra}


def test_summary_counts_outcomes_refusals_and_wrong_entity_per_kind() -> None:
    rows = [
        row("a", "table", "correct", total_ms=100.0),
        row("b", "table", "partial", total_ms=200.0, wrong_entity=True),
        row("c", "identifier", "wrong", total_ms=300.0),
        row("d", "identifier", "refused", total_ms=50.0),
        row("e", "identifier", "error"),
        row("u1", "unanswerable", "refused", False, total_ms=40.0),
        row("u2", "unanswerable", "wrong", False, total_ms=400.0, wrong_entity=True),
    ]
    s = summarise(rows)
    assert (s["answerable"], s["correct"], s["partial"], s["wrong"], s["false_refusals"], s["errors"]) == (
        5,
        1,
        1,
        1,
        1,
        1,
    )
    assert s["correct_rate"] == 0.2 and s["false_refusal_rate"] == 0.2
    assert (s["unanswerable"], s["refused_unanswerable"], s["refusal_accuracy"]) == (2, 1, 0.5)
    assert s["wrong_entity"] == 2 and s["wrong_entity_ids"] == ["b", "u2"]
    assert s["latency_ms"] == {"p50": 150.0, "p95": 400.0}
    assert s["per_kind"]["table"] == {
        "n": 2,
        "correct": 1,
        "partial": 1,
        "wrong": 0,
        "refused": 0,
        "error": 0,
        "correct_rate": 0.5,
    }
    assert s["per_kind"]["unanswerable"]["refused"] == 1


def test_an_empty_run_summarises_without_dividing_by_zero() -> None:
    s = summarise([])
    assert s["correct_rate"] is None and s["refusal_accuracy"] is None and s["latency_ms"]["p50"] is None


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_annotations_come_inline_and_a_side_file_replaces_them(tmp_path: Path) -> None:
    questions = write_jsonl(
        tmp_path / "set.jsonl",
        [
            {"id": "q1", "question": "?", "key_facts": [["a"]], "entity": ["E"]},
            {"id": "q2", "question": "?", "key_facts": [["b"]]},
            {"id": "q3", "question": "?"},
        ],
    )
    side = write_jsonl(tmp_path / "side.jsonl", [{"id": "q2", "key_facts": [["c", "C"]], "confusers": ["F"]}])
    notes = load_annotations(questions, side)
    assert notes["q1"] == Annotation("q1", (("a",),), ("E",))
    assert notes["q2"] == Annotation("q2", (("c", "C"),), (), ("F",))
    assert "q3" not in notes


@pytest.mark.parametrize(
    "record",
    [
        {"id": "q1", "key_facts": ["not a list of lists"]},
        {"id": "q1", "key_facts": [[]]},
        {"id": "q1", "key_facts": [["ok"]], "entity": "not a list"},
        {"id": "nope", "key_facts": [["a"]]},
    ],
)
def test_malformed_side_file_annotations_are_rejected(tmp_path: Path, record: dict[str, Any]) -> None:
    questions = write_jsonl(tmp_path / "set.jsonl", [{"id": "q1", "question": "?"}])
    with pytest.raises(ValueError):
        load_annotations(questions, write_jsonl(tmp_path / "side.jsonl", [record]))
