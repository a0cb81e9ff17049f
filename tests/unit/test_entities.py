"""Which identifiers a question names, and which passages are about them."""

from __future__ import annotations

from assistant.entities import mentions, named, scope
from tests.factories import make_hit


def test_identifiers_with_letters_and_digits_are_named() -> None:
    assert named("What torque is specified for the wheel nuts of the Tamsin TC-2?") == ["TC-2"]
    assert named("A Tamsin TC-2 stores C1A45-96: what does the code mean?") == ["TC-2", "C1A45-96"]
    assert named("Which module has part number NMG-4E0-614-517-B on the AU-E7?") == [
        "NMG-4E0-614-517-B",
        "AU-E7",
    ]


def test_numbers_with_units_ordinals_and_plain_words_are_not_identifiers() -> None:
    assert named("Is 12V at 25°C with 3mm pads enough for the 2nd test of ISO 26262?") == []
    assert named("What does MSD stand for?") == []
    assert named("Approaches to 1-g stalls, a TLS 1.3-capable client") == []


def test_the_same_identifier_is_named_once_whatever_its_spelling() -> None:
    assert named("KV-4 or KV4 or Kv-4?") == ["KV-4"]


def test_mentions_ignore_case_and_inner_separators_but_keep_boundaries() -> None:
    assert mentions("TC-2", "the Tamsin TC2 park brake")
    assert mentions("TC-2", "bulletin SB-TC2-24-031")
    assert mentions("kv-4", "Kestrel KV 4 torque table")
    assert not mentions("TC-2", "the TC-24 test case")
    assert not mentions("TC-2", "variant TC-2A only")
    assert not mentions("C1A27-54", "DTC C1A27-541")


def test_scope_keeps_hits_about_the_named_entity_and_names_what_others_are_about() -> None:
    kv4 = make_hit("Spare wheel carrier nut: 45 ± 5 N·m.", title="Kestrel KV-4 torque specifications", rank=1)
    tc2 = make_hit(
        "Release current limits of the index A actuator.", title="SB-TC2-24-031 EPB cold release", rank=2
    )
    result = scope("What torque is specified for the wheel nuts of the Tamsin TC-2?", (kv4, tc2))
    assert result.entities == ("TC-2",)
    assert [h.chunk.text for h in result.hits] == ["Release current limits of the index A actuator."]
    assert [h.rank for h in result.hits] == [1]
    assert result.missing == ()
    assert result.others == ("KV-4",)


def test_scope_reports_an_entity_no_hit_mentions() -> None:
    kv4 = make_hit("Wheel nuts: 140 ± 10 N·m.", title="Kestrel KV-4 torque specifications", rank=1)
    result = scope("What were the findings of penetration test PT-2024-07?", (kv4,))
    assert result.hits == ()
    assert result.missing == ("PT-2024-07",)


def test_scope_without_identifiers_keeps_every_hit() -> None:
    hits = (make_hit("Pads are replaced at 3.0 mm.", rank=1), make_hit("Wheel nuts: 140 N·m.", rank=2))
    result = scope("When are brake pads replaced?", hits)
    assert result.hits == hits
    assert not result.narrowed
