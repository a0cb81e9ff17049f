"""Key-fact normalisation: spellings of one value compare equal, other values do not, at token boundaries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eval.answers.normalise import contains, normalise

SAME = [
    ("230 ± 15 N·m", "230+/-15 Nm", "230 +/- 15 N m", "230±15 N.m", "230 plus or minus 15 newton metres"),
    ("53.1 °C", "53.1 deg C", "53.1 degrees Celsius", "53.1°C", "53,1 °C".replace(",", ".")),
    ("1,500 mm", "1500 mm", "1500mm", "1,500 millimetres"),
    ("-15 and +15", "−15 and +15", "– 15 and +15", "‐15 and +15"),
    ("5000 ms", "5,000 ms", "5000 milliseconds", "5000ms"),
    ("70 %", "70%", "70 percent", "70 per cent"),
    ("500 kOhm", "500 kΩ", "500 kohm", "500 k ohm"),
    ("Ppk >= 1.67", "Ppk ≥ 1.67", "ppk>=1.67"),
    ("1 x 10-5", "1 × 10⁻⁵", "1x10^-5"),
    ("SAFETY_SILENT", "`SAFETY_SILENT`", "**SAFETY_SILENT**"),
    ("first line", "ﬁrst  line", "FIRST\nline"),
    ("C1A27-54", "c1a27 - 54", "C1A27–54"),
    ("30 s", "30 seconds", "30 sec", "30s"),
]


@pytest.mark.parametrize("spellings", SAME, ids=[s[0] for s in SAME])
def test_spellings_of_one_value_normalise_alike(spellings: tuple[str, ...]) -> None:
    assert len({normalise(s) for s in spellings}) == 1, [normalise(s) for s in spellings]


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("230 ± 15", "230 ± 5"),
        ("53.1 °C", "53.1 °F"),
        ("1,500 mm", "1,500 m"),
        ("0x22", "0x23"),
        ("5 s", "5 ms"),
    ],
)
def test_different_values_stay_different(one: str, other: str) -> None:
    assert normalise(one) != normalise(other)


@pytest.mark.parametrize(
    ("text", "fact"),
    [
        ("The torque is 230 +/- 15 Nm with TL-A [1].", "230 ± 15 N·m"),
        ("| B-01 | Front caliper carrier | M16 x 1.5 | 230 ± 15 | - | TL-A |", "TL-A"),
        ("exception code 15.", "15"),
        ("must linger for 2xMSL (MUST-13)", "2xMSL"),
        ("the release current limit of 14 A before", "14 A"),
        ("maximum 53.1 °C, charge time", "53.1 °C"),
        ("starts in `SAFETY_SILENT` mode", "SAFETY_SILENT"),
    ],
)
def test_a_fact_is_found_in_an_answer_that_states_it(text: str, fact: str) -> None:
    assert contains(normalise(text), normalise(fact))


@pytest.mark.parametrize(
    ("text", "fact"),
    [
        ("code 150", "15"),  # a longer number
        ("ratio 2.15", "15"),  # the decimals of another number
        ("ratio 15.5", "15"),
        ("register C15", "15"),  # part of an identifier
        ("mode SAFETY_SILENT", "silent"),  # part of an identifier
        ("limit 140 A", "14 A"),
        ("P1A90-1C", "P1A90-1"),
        ("", "anything"),
    ],
)
def test_a_fact_is_not_found_inside_a_longer_token(text: str, fact: str) -> None:
    assert not contains(normalise(text), normalise(fact))


def test_an_empty_fact_is_never_found() -> None:
    assert not contains("any text", normalise("  "))


# Text made of the characters and words normalisation rewrites.
TEXT = st.lists(
    st.sampled_from([*"abcxyzNmCV019 .,-+/±°%|`*–−·×≥µΩ\n", "deg", "percent", " seconds", "kOhm", "+/-"]),
    max_size=30,
).map("".join)


@given(TEXT)
def test_normalising_twice_changes_nothing(text: str) -> None:
    assert normalise(normalise(text)) == normalise(text)


@given(st.lists(st.sampled_from([s[0] for s in SAME]), min_size=1, max_size=3), TEXT)
def test_facts_are_found_in_any_sentence_that_quotes_them(facts: list[str], filler: str) -> None:
    sentence = f"{filler}: " + " and ".join(facts) + f"; {filler}."
    assert all(contains(normalise(sentence), normalise(f)) for f in facts)
