"""Post-checks of LLM answers: values the sources lack, other entities, answers that say "not covered"."""

from __future__ import annotations

from assistant.citations import check
from assistant.postcheck import NOT_COVERED, Review, review, unsupported_values
from assistant.types import Chunk, Document, Hit

KV4_TORQUE = "| Item | Thread | Torque | Lock |\n| Caliper carrier | M16 x 1.5 | 230 ± 15 N·m | TL-A |"
TC2_BULLETIN = (
    "The TC-2 rear park brake may not release below -10 °C. Software TC2-BCM-07.3.1 raises the release "
    "current to 18 A. Group torque tables list the KV-4 spare wheel carrier nut at 45 ± 5 N·m."
)
DIAG = "Routine 0x0502 runs the static calibration. The data identifier 0xD10A returns the pad thickness."


def hit(n: int, text: str, title: str = "Doc", metadata: dict[str, str] | None = None) -> Hit:
    document = Document(
        f"d{n}",
        f"docs/{n}.pdf",
        "sha",
        title,
        "application/pdf",
        metadata or {},
        frozenset({"public"}),
        "2026",
    )
    return Hit(Chunk(f"c{n}", f"d{n}", 0, text, 1, "1 Section"), 1.0 / n, n, "reranked", document)


KV4 = hit(1, KV4_TORQUE, "Torque Specification Tables - Kestrel KV-4", {"program": "KV-4"})
TC2 = hit(1, TC2_BULLETIN, "SB-TC2-24-031 Rear park brake", {"program": "TC-2"})


def reviewed(question: str, answer: str, sources: list[Hit], generator: str = "local") -> Review:
    return review(question, False, check(answer, sources, 0.5, attach=True), sources, 0.5, generator)


def test_numbers_compare_by_value_and_identifiers_ignore_separators() -> None:
    evidence = "Target at 1,500 mm, pads warn at 3.0 mm. Applies to the KV-4."
    assert unsupported_values("The target is 1500 mm away; pads warn at 3 mm on the kv4 [1].", evidence) == []


def test_a_number_no_cited_source_gives_is_reported() -> None:
    assert unsupported_values("The bolts take 250 ± 15 N·m [1].", KV4_TORQUE) == ["250"]


def test_an_identifier_or_hex_code_no_source_gives_is_reported() -> None:
    assert unsupported_values("Use routine 0x0503 and DTC C1A27-54 [1].", DIAG) == ["0x0503", "C1A27-54"]


def test_markers_and_list_numbers_are_not_values() -> None:
    assert unsupported_values("1. Routine 0x0502 runs it [2].", DIAG) == []


def test_a_supported_answer_is_left_as_it_is() -> None:
    answer = "The front caliper carrier bolts take 230 ± 15 N·m with thread-locker TL-A [1]."
    result = reviewed("What torque for the KV-4 front caliper carrier bolts?", answer, [KV4])
    assert not result.refused
    assert result.checked.text == answer
    assert result.notes == ()


def test_a_sentence_with_an_invented_value_is_dropped_and_the_rest_kept() -> None:
    answer = "The carrier bolts take 230 ± 15 N·m [1]. Re-torque them after 500 km [1]."
    result = reviewed("What torque for the KV-4 front caliper carrier bolts?", answer, [KV4])
    assert not result.refused
    assert result.checked.text == "The carrier bolts take 230 ± 15 N·m [1]."
    assert "500" in result.notes[0]


def test_an_answer_whose_only_value_is_invented_becomes_a_refusal() -> None:
    result = reviewed(
        "What torque for the KV-4 front caliper carrier bolts?", "They take 120 N·m [1].", [KV4]
    )
    assert result.refused
    assert result.checked.text == NOT_COVERED
    assert result.checked.citations == ()


def test_a_value_given_for_another_vehicle_becomes_a_refusal_naming_both() -> None:
    answer = "The KV-4 spare wheel carrier nut is tightened to 45 ± 5 N·m [1]."
    result = reviewed("What torque is specified for the wheel nuts of the Tamsin TC-2?", answer, [TC2])
    assert result.refused
    assert result.checked.text.startswith("The documents available to you give this for KV-4, not for TC-2.")


def test_a_sentence_naming_the_asked_entity_beside_another_is_kept() -> None:
    answer = "Unlike the KV-4, the TC-2 software TC2-BCM-07.3.1 raises the release current to 18 A [1]."
    result = reviewed("Which software fixes the TC-2 park brake?", answer, [TC2])
    assert not result.refused
    assert result.notes == ()


def test_an_answer_that_only_says_the_sources_do_not_cover_it_is_a_refusal() -> None:
    answer = "The provided sources do not contain information about the brake fluid interval."
    result = reviewed("What is the brake fluid replacement interval for the KV-4?", answer, [KV4])
    assert result.refused
    assert result.checked.text == NOT_COVERED


def test_an_answer_with_a_fact_and_a_hedge_is_not_a_refusal() -> None:
    answer = "The carrier bolts take 230 ± 15 N·m [1]. The sources do not give a re-torque interval."
    result = reviewed("What torque for the KV-4 front caliper carrier bolts?", answer, [KV4])
    assert not result.refused


def test_extractive_answers_and_refusals_are_not_checked() -> None:
    invented = "They take 120 N·m [1]."
    assert not reviewed("Torque for the KV-4 carrier bolts?", invented, [KV4], "extractive").refused
    checked = check(invented, [KV4], 0.5)
    already = review("Torque for the KV-4 carrier bolts?", True, checked, [KV4], 0.5, "local")
    assert already.refused and already.checked is checked


def test_a_negative_fact_about_the_part_is_not_taken_for_a_non_answer() -> None:
    answer = "The rear park brake may not release below -10 °C [1]."
    result = reviewed("When does the TC-2 park brake not release?", answer, [TC2])
    assert not result.refused


def test_a_value_cited_to_the_wrong_source_is_cited_to_the_source_that_holds_it() -> None:
    sources = [TC2, hit(2, DIAG, "Diagnostic guide")]
    result = reviewed("Which routine runs the static calibration?", "Routine 0x0502 runs it [1].", sources)
    assert not result.refused
    assert result.checked.text == "Routine 0x0502 runs it [2]."
    assert [c.marker for c in result.checked.citations] == [2]
    assert result.original == "Routine 0x0502 runs it [1]."


def test_an_answer_that_only_restates_the_question_is_a_refusal() -> None:
    question = "Which cybersecurity requirement mandates message authentication on the chassis CAN FD bus?"
    answer = (
        "The cybersecurity requirement that mandates message authentication on the chassis CAN FD bus is [1]."
    )
    result = reviewed(
        question, answer, [hit(1, "CSR-NET-004: messages on the chassis CAN FD bus are authenticated.")]
    )
    assert result.refused
    assert result.notes == ("the answer only restates the question",)
