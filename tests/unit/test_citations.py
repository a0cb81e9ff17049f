"""Citation checking: markers, sentence splitting, support share, quotes."""

from __future__ import annotations

import pytest

from assistant.citations import (
    best_quote,
    check,
    content_words,
    markers_in,
    split_sentences,
    strip_invalid_markers,
    support,
)
from assistant.types import Chunk, Document, Hit

PAD_TEXT = "Scope of the brake spec. The pad wear warning is raised at 3.0 mm remaining friction material."
ROTOR_TEXT = "Front rotors are ventilated cast iron discs of 360 mm diameter."


def hit(n: int, text: str, page: int | None = None) -> Hit:
    document = Document(
        f"d{n}", f"docs/{n}.pdf", "sha", f"Doc {n}", "application/pdf", {}, frozenset({"public"}), "2026"
    )
    return Hit(Chunk(f"c{n}", f"d{n}", 0, text, page, f"{n} Section"), 1.0 / n, n, "reranked", document)


SOURCES = [hit(1, PAD_TEXT, page=4), hit(2, ROTOR_TEXT, page=7)]


def test_markers_are_read_in_order_of_first_appearance_including_lists() -> None:
    assert markers_in("A [2]. B [1, 3]. C [2][4]. D [ 5 ].") == (2, 1, 3, 4)
    assert markers_in("no markers [a] [] [1000]") == ()


def test_markers_pointing_to_no_source_are_removed_without_leaving_gaps() -> None:
    text, removed = strip_invalid_markers("A [1]. B [7]. C [2, 9]. D [0].", 2)
    assert text == "A [1]. B. C [2]. D."
    assert removed == (7, 9, 0)


def test_valid_markers_are_left_alone() -> None:
    assert strip_invalid_markers("A [1][2]. B [1, 2].", 2) == ("A [1][2]. B [1, 2].", ())


def test_sentences_split_after_their_trailing_markers() -> None:
    assert split_sentences("Pads warn at 3.0 mm [1]. Rotors are steel [2][3]. Check it! Done?") == [
        "Pads warn at 3.0 mm [1].",
        "Rotors are steel [2][3].",
        "Check it!",
        "Done?",
    ]


def test_markers_after_the_full_stop_stay_with_their_sentence() -> None:
    assert split_sentences("Pads warn at 3.0 mm. [1] Rotors are steel [2].") == [
        "Pads warn at 3.0 mm. [1]",
        "Rotors are steel [2].",
    ]


@pytest.mark.parametrize(
    "text",
    ["The limit is 3.0 mm for M16 x 1.5 bolts [1].", "Use e.g. the BD-2 bench [1].", "Value 0.5 [1]."],
)
def test_decimals_and_lower_case_continuations_do_not_split(text: str) -> None:
    assert split_sentences(text) == [text]


def test_empty_text_has_no_sentences() -> None:
    assert split_sentences("") == [] and split_sentences("   \n ") == []


def test_support_is_the_share_of_content_words_found_in_the_source() -> None:
    assert support("Pads warn at 3.0 mm [1].", PAD_TEXT) == 1.0
    assert support("Pads warn at 3.5 mm [1].", PAD_TEXT) == pytest.approx(0.75)  # numbers match exactly
    assert support("Rotors are ventilated [2].", PAD_TEXT) == 0.0


def test_a_sentence_without_content_words_needs_no_support() -> None:
    assert content_words("It is what it is [3].") == set()
    assert support("It is what it is [3].", "") == 1.0


def test_best_quote_is_the_source_sentence_sharing_most_words() -> None:
    assert best_quote("pad wear warning at 3.0 mm", PAD_TEXT) == (
        "The pad wear warning is raised at 3.0 mm remaining friction material."
    )
    long = "pad wear " * 100
    quote = best_quote("pad wear", long, limit=50)
    assert len(quote) <= 50 and quote.endswith("…") and quote[:-1] in long


def test_check_maps_markers_to_sources_and_quotes_them() -> None:
    checked = check(
        "The pad wear warning is raised at 3.0 mm [1]. Rotors are 360 mm cast iron [2].", SOURCES, 0.5
    )
    assert checked.unsupported == () and checked.support_rate == 1.0
    assert [(c.marker, c.chunk_id, c.doc_id, c.page) for c in checked.citations] == [
        (1, "c1", "d1", 4),
        (2, "c2", "d2", 7),
    ]
    assert checked.citations[0].quote in PAD_TEXT and checked.citations[1].quote in ROTOR_TEXT


def test_check_drops_invalid_markers_and_flags_unsupported_and_uncited_sentences() -> None:
    checked = check(
        "The pad wear warning is raised at 3.0 mm [1]. Rotors are made of carbon ceramic [1]. "
        "Calipers are red [9]. Tyres are 19 inch.",
        SOURCES,
        0.5,
    )
    assert checked.removed_markers == (9,)
    assert "[9]" not in checked.text
    assert checked.unsupported == (
        "Rotors are made of carbon ceramic [1].",
        "Calipers are red.",
        "Tyres are 19 inch.",
    )
    assert checked.support_rate == pytest.approx(0.5)  # two cited sentences, one supported
    assert [c.marker for c in checked.citations] == [1]


def test_check_does_not_flag_a_refusal_sentence() -> None:
    checked = check("I don't know: the documents available to you do not cover this.", SOURCES, 0.5)
    assert checked.unsupported == () and checked.citations == () and checked.support_rate is None


def test_attach_cites_an_uncited_sentence_its_best_source_supports() -> None:
    sources = [
        hit(1, "The coolant pump runs at 70 % duty during DC fast charging."),
        hit(2, "Update the brake control module to software version TC2-BCM-07.3.1 or later."),
    ]
    text = "Software version TC2-BCM-07.3.1 or later fixes the brake control module. The moon is cheese."
    checked = check(text, sources, 0.5, attach=True)
    first = "Software version TC2-BCM-07.3.1 or later fixes the brake control module [2]."
    assert checked.text.startswith(first)
    assert [c.marker for c in checked.citations] == [2]
    assert checked.unsupported == ("The moon is cheese.",)
    assert check(text, sources, 0.5).citations == ()  # without attach nothing is added
