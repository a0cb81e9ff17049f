"""PDF tables: found from the drawn grid (pdfium), put in place of pypdf's lines, read as whole rows."""

from pathlib import Path

from assistant.tables import format_row, parse_row
from ingest.loaders import load
from ingest.pdf_tables import PdfTable, document_tables, place_tables
from tests.factories import TORQUE_HEADER, TORQUE_ROWS, make_pdf, table_pdf


def test_ruled_table_rows_come_out_whole_with_the_header_first(tmp_path: Path) -> None:
    parsed = load(table_pdf(tmp_path / "torque.pdf"))
    kinds = [(b.kind, b.text) for b in parsed.blocks if b.kind.startswith("table")]
    assert kinds[0] == ("table_header", format_row(TORQUE_HEADER))
    assert [parse_row(text) for _, text in kinds[1:]] == TORQUE_ROWS  # a wrapped cell is one cell
    assert {b.table for b in parsed.blocks if b.kind.startswith("table")} == {1}


def test_text_around_a_table_is_still_pypdf_text(tmp_path: Path) -> None:
    parsed = load(table_pdf(tmp_path / "torque.pdf"))
    texts = [b.text for b in parsed.blocks if not b.kind.startswith("table")]
    assert texts == [
        "3 Brakes",
        "Tighten the brake fasteners to the torque in the table below.",
        "Replace copper washers whenever a banjo bolt is loosened.",
    ]
    assert parsed.blocks[0].kind == "heading"


def test_rows_with_no_rule_between_them_are_split_into_rows(tmp_path: Path) -> None:
    parsed = load(table_pdf(tmp_path / "torque.pdf", rows=TORQUE_ROWS[:2], row_rules=False))
    rows = [parse_row(b.text) for b in parsed.blocks if b.kind == "table_row"]
    assert rows == TORQUE_ROWS[:2]


def test_a_table_continued_on_the_next_page_gets_its_header_repeated(tmp_path: Path) -> None:
    rows = [[f"B-{i:02d}", f"Bolt number {i}", "M8 x 1.25", f"{i} ± 1", "-", "None"] for i in range(1, 80)]
    parsed = load(table_pdf(tmp_path / "long.pdf", rows=rows, repeat_header=False))
    assert parsed.pages == 2
    headers = [(b.page, b.text) for b in parsed.blocks if b.kind == "table_header"]
    assert headers == [(1, format_row(TORQUE_HEADER)), (2, format_row(TORQUE_HEADER))]
    assert [parse_row(b.text) for b in parsed.blocks if b.kind == "table_row"] == rows


def test_pages_without_drawn_tables_have_no_tables(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "plain.pdf", [["Item | Value | Unit", "Torque | 140 | Nm"]])
    assert document_tables(str(path)) == {}
    assert not any(b.kind.startswith("table") for b in load(path).blocks)


def test_a_table_replaces_exactly_the_lines_that_hold_its_cells() -> None:
    table = PdfTable(0.0, (("Size", "Torque"), ("M16 x 1.5", "230 ± 15")))
    lines = ["3 Brakes", " Size", "Torque", "M16 x", "1.5 230 ± 15", "After"]
    assert place_tables(lines, [table]) == ["3 Brakes", table, "After"]


def test_a_table_whose_text_pypdf_reads_differently_is_left_out() -> None:
    table = PdfTable(0.0, (("Size", "Torque"), ("M16", "230")))
    lines = ["Size", "M16", "Torque", "230"]  # read column by column
    assert place_tables(lines, [table]) == lines
