"""What a question asks for, and which sentences state it."""

from __future__ import annotations

import pytest

from assistant.generation.answer_type import expanded, expected, explains, fits


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("What is the part number of the integrated brake module on the AU-E7?", "identifier"),
        ("Which DTC does the brake module store when the wear counter was not reset?", "identifier"),
        ("What torque and thread-locker are specified for the front caliper carrier bolts?", "value"),
        ("How far from the front wheel centre must the calibration target be placed?", "value"),
        ("What does MSD stand for?", "definition"),
        ("Why does the park brake tighten itself again after parking?", "reason"),
        ("How must a technician confirm that the high-voltage system is really dead?", "procedure"),
        ("Which tester does the TCU accept?", "other"),
    ],
)
def test_expected_kind_follows_the_wording(question: str, kind: str) -> None:
    assert expected(question) == kind


def test_identifier_fit_needs_an_identifier_the_question_does_not_name() -> None:
    question = "What is the part number of the integrated brake module on the AU-E7?"
    assert fits("identifier", "The AU-E7 IBM has part number NMG-4E0-614-517-B.", question) == 1.0
    assert fits("identifier", "The AU-E7 uses an integrated brake module.", question) == 0.0
    assert fits("identifier", "Routine 0x0502 runs the static calibration.", "Which routine?") == 1.0


def test_value_fit_needs_a_number_with_a_unit() -> None:
    assert (
        fits("value", "Front caliper carrier to knuckle M16 x 1.5 230 ± 15 N·m TL-A", "What torque?") == 1.0
    )
    assert fits("value", "The target is placed 1,500 mm ± 10 mm ahead.", "How far?") == 1.0
    assert fits("value", "Torque the bolts in a star pattern.", "What torque?") == 0.0


def test_definition_fit_needs_the_acronym_spelled_out() -> None:
    assert fits(
        "definition",
        "MSD: manual service disconnect, the plug that splits the pack.",
        "What does MSD stand for?",
    )
    assert not fits("definition", "Remove the MSD before work.", "What does MSD stand for?")


def test_reason_fit_needs_a_cause_or_a_purpose() -> None:
    question = "Why does the park brake tighten itself again after parking?"
    assert fits("reason", "A re-clamp is performed after 180 s to compensate for disc contraction.", question)
    assert fits("reason", "The grease becomes too viscous at low temperature.", question)
    assert not fits("reason", "The EPB applies a clamp force of 16 kN per rear wheel.", question)


def test_a_cause_section_explains_whatever_its_sentences_say() -> None:
    assert explains("Service bulletin > 3. Cause")
    assert explains("7 Rationale")
    assert not explains("Causes and reasons > 4. Repair")  # only the innermost heading counts
    assert not explains(None)


def test_an_acronym_covers_the_question_words_it_abbreviates() -> None:
    question = "What is the part number of the integrated brake module on the AU-E7?"
    assert expanded("The IBM (part number NMG-4E0-614-517-B) shall build 100 bar.", question) == {
        "integr",
        "brake",
        "modul",
    }
    assert expanded("The SBU provides redundant pressure.", question) == set()


def test_procedure_fit_needs_a_step() -> None:
    question = "How must a technician confirm that the high-voltage system is really dead?"
    assert fits("procedure", "First test the tester on a known live source, then measure.", question)
    assert fits("procedure", "Measure at the inverter DC input.", question)
    assert not fits("procedure", "The HV system is dead below 60 V DC.", question)
