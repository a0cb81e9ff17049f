from pathlib import Path

import pytest

from ingest.loaders import LoadError, load
from tests.factories import make_docx


def test_markdown_sections_and_tables(tmp_path: Path) -> None:
    file = tmp_path / "a.md"
    file.write_text(
        "# Camera\n\nIntro text here.\n\n## Targets\n\n| Target | Distance |\n|---|---|\n| T1 | 3.0 m |\n"
    )
    parsed = load(file)
    rows = [b for b in parsed.blocks if b.kind.startswith("table")]
    assert [b.text for b in rows] == ["| Target | Distance |", "| T1 | 3.0 m |"]
    assert rows[0].kind == "table_header" and rows[0].section == ("Camera", "Targets")
    assert parsed.title == "Camera"


def test_html_headings_paragraphs_and_tables(tmp_path: Path) -> None:
    file = tmp_path / "a.html"
    file.write_text(
        "<html><head><title>HV safety</title><script>x()</script></head><body>"
        "<h1>1. Isolation</h1><p>Wear class 0 gloves.</p><h2>1.1. Checks</h2>"
        "<table><tr><th>Step</th><th>Action</th></tr><tr><td>1</td><td>Lock out</td></tr></table>"
        "</body></html>"
    )
    parsed = load(file)
    texts = [(b.kind, b.text, b.section) for b in parsed.blocks]
    assert ("text", "Wear class 0 gloves.", ("1. Isolation",)) in texts
    assert ("table_row", "| 1 | Lock out |", ("1. Isolation", "1.1. Checks")) in texts
    assert parsed.title == "HV safety"
    assert not any("x()" in b.text for b in parsed.blocks)


def test_text_numbered_and_underlined_headings(tmp_path: Path) -> None:
    file = tmp_path / "a.txt"
    file.write_text(
        "Bench procedure\n\n1. SCOPE\n\nThis covers the dyno.\n\n2. EQUIPMENT\n\n"
        "2.1 Sensors\n\nThermocouples type K.\n\nNotes:\n------\n\nKeep the door shut.\n"
    )
    parsed = load(file)
    sections = {b.text: b.section for b in parsed.blocks if b.kind == "text"}
    assert sections["This covers the dyno."] == ("1. SCOPE",)
    assert sections["Thermocouples type K."] == ("2. EQUIPMENT", "2.1 Sensors")
    assert sections["Keep the door shut."][-1] == "Notes:"


def test_docx_heading_styles_and_tables(tmp_path: Path) -> None:
    parsed = load(make_docx(tmp_path / "a.docx"))
    table = [b for b in parsed.blocks if b.kind.startswith("table")]
    assert table[0].text == "| Parameter | Limit |" and table[0].kind == "table_header"
    assert table[1].section == ("Inverter calibration", "Current sensor offset")
    last = parsed.blocks[-1]
    assert last.section == ("Inverter calibration", "Resolver alignment")


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "empty file"),
        ("blank.md", b"  \n\n ", "empty file"),
        ("binary.txt", b"\x00\x01\x02binary\x00" * 50, "binary content"),
        ("image.png", b"\x89PNG", "unsupported file type .png"),
        ("fake.pdf", b"just text", "not a PDF"),
        ("fake.docx", b"PK not a zip", "corrupt DOCX"),
    ],
)
def test_bad_files_raise_a_clear_reason(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    file = tmp_path / name
    file.write_bytes(content)
    with pytest.raises(LoadError, match=reason):
        load(file)


def test_nul_characters_are_removed_from_parsed_text() -> None:
    """A PDF's text can hold NUL padding: never content, and PostgreSQL text cannot hold it."""
    from ingest.loaders import Block, Parsed, _without_nul

    parsed = Parsed(
        "application/pdf",
        "Brake\x00 spec",
        1,
        [Block("Pad wear\x00 limit 2 mm", 1, ("4 Pads\x00",)), Block("clean", 1, ())],
    )
    cleaned = _without_nul(parsed)
    assert cleaned.title == "Brake spec"
    assert [b.text for b in cleaned.blocks] == ["Pad wear limit 2 mm", "clean"]
    assert cleaned.blocks[0].section == ("4 Pads",)
    untouched = Parsed("text/plain", "T", None, [Block("x", None, ())])
    assert _without_nul(untouched) is untouched
