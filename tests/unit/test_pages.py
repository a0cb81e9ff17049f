"""A page's text rebuilt from overlapping chunks."""

from __future__ import annotations

from assistant.pages import merge_chunks, page_text
from assistant.types import Chunk

A = "The pad wear warning is raised at 3.0 mm remaining friction material on the inner pad."
B = "The sensor loop opens when the pad is worn, and the IBM stores C1A27-54 after a pad change."
C = "Rotors are ventilated cast iron discs of 360 mm diameter with a minimum thickness of 28 mm."


def test_the_overlap_a_chunk_repeats_is_dropped() -> None:
    first = f"{A} {B[:40]}"  # the next chunk starts with the same 40 characters (over the 20 minimum)
    assert merge_chunks([first, B]) == f"{A} {B}"


def test_a_chain_of_overlapping_chunks_merges_into_the_original_text() -> None:
    text = f"{A} {B} {C}"
    chunks = [text[0:80], text[50:160], text[130:]]
    assert merge_chunks(chunks) == text


def test_short_coincidental_overlaps_are_kept() -> None:
    # "pad." ends the first chunk and starts the second: far below 20 characters, so not an overlap.
    assert merge_chunks(["Check the pad.", "pad. Then the disc."]) == "Check the pad.\npad. Then the disc."


HEADER = "| Ref. | Fastener | Torque (N·m) |"
ROWS = [f"| B-0{i} | Caliper bolt number {i} | {i * 10} ± 2 |" for i in range(1, 5)]


def test_a_table_continued_in_the_next_chunk_goes_on_under_one_header() -> None:
    first = "\n".join(["3 Brakes", HEADER, *ROWS[:3]])
    second = "\n".join([HEADER, *ROWS[2:]])  # a continuation: the header, an overlapping row, a new row
    assert merge_chunks([first, second]) == "\n".join(["3 Brakes", HEADER, *ROWS])


def test_a_new_table_with_the_same_header_after_text_keeps_its_header() -> None:
    first = "\n".join([HEADER, ROWS[0], "Suspension follows."])
    second = "\n".join([HEADER, ROWS[1]])
    assert merge_chunks([first, second]) == f"{first}\n{second}"


def test_chunks_without_overlap_are_joined_by_a_line_break() -> None:
    assert merge_chunks([A, B, C]) == f"{A}\n{B}\n{C}"


def test_chunk_text_is_stripped_and_empty_input_gives_empty_text() -> None:
    assert merge_chunks([]) == ""
    assert merge_chunks([f"  {A}\n"]) == A


def test_a_chunk_entirely_repeated_by_the_next_is_not_duplicated() -> None:
    assert merge_chunks([A, A]) == A
    assert merge_chunks([A[:60], A]) == A


def chunk(ordinal: int, text: str, page: int | None, section: str | None = None) -> Chunk:
    return Chunk(f"c{ordinal}", "d1", ordinal, text, page, section)


def test_page_text_takes_only_that_pages_chunks_in_order() -> None:
    chunks = [
        chunk(0, A, 1, "1 Scope"),
        chunk(1, B, 2, "4 Pads"),
        chunk(2, C, 2, "5 Rotors"),
        chunk(3, A, 3, "4 Pads"),
    ]
    page = page_text(chunks, 2)
    assert page is not None
    assert page.page == 2 and page.text == f"{B}\n{C}" and page.sections == ("4 Pads", "5 Rotors")
    assert page_text(chunks, 4) is None and page_text(chunks, 0) is None


def test_a_document_without_pages_is_served_as_page_one() -> None:
    chunks = [chunk(0, A, None, "Intro"), chunk(1, B, None, "Intro"), chunk(2, C, None, None)]
    page = page_text(chunks, 1)
    assert page is not None and page.text == f"{A}\n{B}\n{C}" and page.sections == ("Intro",)
    assert page_text(chunks, 2) is None


def test_no_chunks_no_page() -> None:
    assert page_text([], 1) is None
