from assistant.generation.extractive import pieces_of

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
