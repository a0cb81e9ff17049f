from ingest.chunking import chunk_blocks
from ingest.loaders import Block


def words(text: str) -> int:
    return len(text.split())


def test_chunks_never_cross_pages() -> None:
    blocks = [Block(f"line {i} on page {p} " * 3, p, ("1 Scope",)) for p in (1, 2) for i in range(20)]
    drafts = chunk_blocks(blocks, words, max_tokens=40, overlap_tokens=0)
    for draft in drafts:
        assert f"page {3 - draft.page}" not in draft.text
    assert {d.page for d in drafts} == {1, 2}


def test_chunks_carry_the_section_path() -> None:
    blocks = [
        Block("4.2.1 Pad wear", 2, ("4 Parts", "4.2 Friction", "4.2.1 Pad wear"), "heading"),
        Block(
            "The pad wear limit is 2 mm for every axle. " * 3,
            2,
            ("4 Parts", "4.2 Friction", "4.2.1 Pad wear"),
        ),
    ]
    (draft,) = chunk_blocks(blocks, words, max_tokens=100, min_tokens=1)
    assert draft.section == "4 Parts > 4.2 Friction > 4.2.1 Pad wear"
    assert draft.text.startswith("4.2.1 Pad wear")


def test_table_rows_stay_whole_and_continuations_repeat_the_header() -> None:
    rows = [Block("Fastener | Torque | Angle", None, ("T",), "table_header", 1)]
    rows += [Block(f"Bolt M{10 + i} | {50 + i} Nm | 90 deg", None, ("T",), "table_row", 1) for i in range(30)]
    drafts = chunk_blocks(rows, words, max_tokens=40, overlap_tokens=0)
    assert len(drafts) > 1
    for draft in drafts:
        lines = draft.text.split("\n")
        assert lines[0] == "Fastener | Torque | Angle"
        assert all(line.count("|") == 2 for line in lines)
    body = [line for d in drafts for line in d.text.split("\n")[1:]]
    assert body == [r.text for r in rows[1:]]


def test_long_paragraphs_are_split_within_the_budget() -> None:
    sentence = "The inverter shall enter the active short circuit state on loss of the resolver signal."
    drafts = chunk_blocks(
        [Block(" ".join([sentence] * 30), None, ())], words, max_tokens=50, overlap_tokens=0
    )
    assert len(drafts) > 1
    assert all(words(d.text) <= 50 for d in drafts)
    assert " ".join(d.text for d in drafts).split() == " ".join([sentence] * 30).split()


def test_consecutive_chunks_overlap() -> None:
    blocks = [Block(f"Sentence number {i} is about coolant flow.", None, ("S",)) for i in range(40)]
    drafts = chunk_blocks(blocks, words, max_tokens=30, overlap_tokens=8)
    first_tail = drafts[0].text.split("\n")[-1]
    assert drafts[1].text.split("\n")[0] == first_tail


def test_tiny_sections_merge_into_the_next_on_the_same_page() -> None:
    blocks = [
        Block("4 Brakes", 1, ("4 Brakes",), "heading"),
        Block("4.1 Pads", 1, ("4 Brakes", "4.1 Pads"), "heading"),
        Block(
            "Pads are made of low-copper friction material with a minimum thickness of 2 mm. " * 4,
            1,
            ("4 Brakes", "4.1 Pads"),
        ),
    ]
    (draft,) = chunk_blocks(blocks, words, max_tokens=200, min_tokens=10)
    assert draft.text.startswith("4 Brakes\n4.1 Pads")
    assert draft.section == "4 Brakes > 4.1 Pads"


def test_ordinals_are_sequential() -> None:
    blocks = [Block(f"para {i} " * 20, None, (f"S{i}",)) for i in range(5)]
    assert [d.ordinal for d in chunk_blocks(blocks, words, max_tokens=50)] == list(range(5))
