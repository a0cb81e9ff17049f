import numpy as np

from assistant.citations import content_words
from assistant.generation.extractive import ExtractiveGenerator, pieces_of, quotable

CHUNK = (
    "3 Brakes\n"
    "| Ref. | Fastener | Size | Torque (N·m) | Angle | Thread-locker |\n"
    "| B-01 | Front caliper carrier to knuckle | M16 x 1.5 | 230 ± 15 | - | TL-A |\n"
    "| B-02 | Front caliper guide pin bolt. See note 2. | M10 x 1.25 | 32 ± 3 | - | None |\n"
    "Re-torque wheel nuts after 50 km. Spare wheel carrier nut: 45 ± 5 N·m."
)


def test_a_table_row_is_one_readable_piece_without_pipes() -> None:
    rows = [piece for piece, row in pieces_of(CHUNK) if row]
    assert rows == [
        "Ref: B-01 · Fastener: Front caliper carrier to knuckle · Size: M16 x 1.5 · Torque: 230 ± 15 N·m"
        " · Thread-locker: TL-A",
        "Ref: B-02 · Fastener: Front caliper guide pin bolt. See note 2. · Size: M10 x 1.25"
        " · Torque: 32 ± 3 N·m · Thread-locker: None",
    ]


def test_prose_around_a_table_is_still_split_into_sentences() -> None:
    prose = [piece for piece, row in pieces_of(CHUNK) if not row]
    assert prose == ["3 Brakes", "Re-torque wheel nuts after 50 km.", "Spare wheel carrier nut: 45 ± 5 N·m."]


def test_the_header_of_a_two_column_table_is_a_piece_of_its_own() -> None:
    pieces = pieces_of("| Document ID | NMG-KST-TT-0056 |\n| Revision | D, 2024-01-19 |")
    assert pieces == [("Document ID: NMG-KST-TT-0056", True), ("Revision: D, 2024-01-19", True)]


def test_a_list_item_carries_the_sentence_that_opens_its_list() -> None:
    chunk = (
        "## When calibration is required\n"
        "A static calibration is mandatory after any of the following:\n"
        "- windscreen replacement or removal of the camera bracket;\n"
        "- replacement of the camera FMC-3;\n"
        "A dynamic calibration alone is only allowed after a software update."
    )
    pieces = [piece for piece, _ in pieces_of(chunk)]
    assert pieces[2:] == [
        "A static calibration is mandatory after any of the following: windscreen replacement or removal of "
        "the camera bracket;",
        "A static calibration is mandatory after any of the following: replacement of the camera FMC-3;",
        "A dynamic calibration alone is only allowed after a software update.",
    ]


def test_titles_lead_ins_and_unfinished_lines_are_not_quoted() -> None:
    heads = frozenset(content_words("Brake System Design Specification | Aurelis AU-E7"))
    title = "Aurelis AU-E7 premium electric sedan - service and park brake system"
    assert not quotable(title, first=True)  # no closing punctuation: a title or heading line
    assert not quotable("Brake system design specification, Aurelis AU-E7.", first=True, heads=heads)
    assert not quotable("A static calibration is mandatory after any of the following:", first=False)
    assert quotable("The EPB applies a clamp force of 16 kN per rear wheel.", first=False, heads=heads)
    assert quotable("Program: AU-E7 (Aurelis), model year 2025", first=False, row=True)


class _CountingEmbedder:
    """Embeds each text as a fixed vector and counts how many texts it was asked for."""

    def __init__(self) -> None:
        self.embedded = 0

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        self.embedded += len(texts)
        return np.asarray([[float(len(t)), 1.0] for t in texts])


def test_sentence_vectors_are_embedded_once_and_kept_in_order() -> None:
    embedder = _CountingEmbedder()
    generator = ExtractiveGenerator(embedder)  # type: ignore[arg-type]
    first = generator._embed(["a b", "c d e", "a b"])
    again = generator._embed(["c d e", "f"])
    assert embedder.embedded == 3  # "a b" and "c d e" once each, then only "f"
    assert first.tolist() == [[3.0, 1.0], [5.0, 1.0], [3.0, 1.0]]
    assert again.tolist() == [[5.0, 1.0], [1.0, 1.0]]
