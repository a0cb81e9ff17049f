from assistant.tables import format_row, is_row, parse_row, render_row, table_runs

HEADER = ["Ref.", "Fastener", "Size", "Torque (N·m)", "Angle", "Thread-locker"]
ROW = ["B-01", "Front caliper carrier to knuckle", "M16 x 1.5", "230 ± 15", "-", "TL-A"]


def test_a_formatted_row_parses_back_to_its_cells() -> None:
    cells = ["a | b", "M16 x 1.5", "", "230 ± 15"]
    line = format_row(cells)
    assert line == "| a \\| b | M16 x 1.5 |  | 230 ± 15 |"
    assert parse_row(line) == cells


def test_markdown_rows_without_a_closing_pipe_are_rows_and_prose_is_not() -> None:
    assert parse_row("| T1 | 3.0 m") == ["T1", "3.0 m"]
    assert not is_row("Item | Value | Unit")
    assert not is_row("| a lone pipe")
    assert parse_row("The torque is 230 N·m.") is None


def test_row_reads_as_header_value_pairs_with_the_unit_after_the_number() -> None:
    assert render_row(ROW, HEADER) == (
        "Ref: B-01 · Fastener: Front caliper carrier to knuckle · Size: M16 x 1.5 · Torque: 230 ± 15 N·m"
        " · Thread-locker: TL-A"
    )


def test_row_without_a_matching_header_reads_as_cells() -> None:
    assert render_row(ROW[1:]) == "Front caliper carrier to knuckle · M16 x 1.5 · 230 ± 15 · TL-A"
    assert (
        render_row(ROW, HEADER[:3]) == "B-01 · Front caliper carrier to knuckle · M16 x 1.5 · 230 ± 15 · TL-A"
    )


def test_two_column_rows_read_as_key_and_value() -> None:
    assert (
        render_row(["Revision", "D, 2024-01-19"], ["Document ID", "NMG-KST-TT-0056"])
        == "Revision: D, 2024-01-19"
    )


def test_a_unit_is_not_added_to_a_value_without_a_number_or_with_the_unit() -> None:
    header = ["Item", "Torque (N·m)", "Speed (km/h)"]
    assert render_row(["Pump", "n/a", "30 km/h"], header) == "Item: Pump · Torque (N·m): n/a · Speed: 30 km/h"


def test_table_runs_take_the_first_row_as_header() -> None:
    lines = ["Intro.", format_row(HEADER), format_row(ROW), "Outro.", "| a | b |"]
    first, second = table_runs(lines)
    assert (first.start, first.end, first.header, first.rows) == (1, 3, HEADER, [ROW])
    assert (second.start, second.header, second.rows) == (4, ["a", "b"], [])
