"""Test documents the tests write themselves: PDFs (reportlab), DOCX (python-docx) and broken files."""

from __future__ import annotations

import io
from pathlib import Path

from pypdf import PdfReader, PdfWriter

from assistant.types import Chunk, Document, Hit


def make_pdf(path: Path, pages: list[list[str]], title: str = "Test document") -> Path:
    """A PDF with one list of lines per page (lines starting with '|' become a table row)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    path.parent.mkdir(parents=True, exist_ok=True)
    pdf = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    pdf.setTitle(title)
    for lines in pages:
        y = 800
        for line in lines:
            pdf.setFont("Helvetica", 10)
            pdf.drawString(60, y, line)
            y -= 16
        pdf.showPage()
    pdf.save()
    return path


PARTS = [
    "housing",
    "actuator",
    "sensor",
    "harness",
    "controller",
    "bracket",
    "seal",
    "valve",
    "pump",
    "cover",
]


def spec_pdf(path: Path, topic: str = "brake", pages: int = 3) -> Path:
    """A multi-page specification with a running header and footer, numbered sections and a table per page.

    Page 1 holds sections 1 and 2; page n > 1 holds section n + 1, about part ``PARTS[n % 10]``.
    """
    content = []
    for n in range(1, pages + 1):
        part = PARTS[n % len(PARTS)]
        lines = [f"{topic.title()} specification NMG-{topic.upper()}-001 Rev A"]
        if n == 1:
            lines += ["1 Scope", f"This specification covers every {topic} unit of the AU-E7 program."]
        section = n + 1
        lines += [
            f"{section} {topic.title()} {part}",
            f"{section}.1 Requirements for the {topic} {part}",
            f"The {topic} {part} shall operate between -40 C and 85 C with a tolerance of 0.05 mm.",
            f"Identifier {topic.upper()}-REQ-{n:03d} applies to every {topic} {part}.",
            "Item | Value | Unit",
            f"Torque of the {part} | {[120, 95, 140, 60][n % 4]} | Nm",
            f"Clearance of the {part} | 0.{[5, 3, 8][n % 3]} | mm",
            f"Nordhavn Motor Group - page {n} of {pages}",
        ]
        content.append(lines)
    return make_pdf(path, content, title=f"{topic.title()} specification")


def encrypted_pdf(path: Path) -> Path:
    """A PDF that needs a password."""
    source = spec_pdf(path.with_suffix(".plain.pdf"))
    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password="s3cret", owner_password="owner", algorithm="AES-128")
    with path.open("wb") as fh:
        writer.write(fh)
    source.unlink()
    return path


def truncated_pdf(path: Path) -> Path:
    """The first half of a valid PDF."""
    data = spec_pdf(path.with_suffix(".full.pdf")).read_bytes()
    path.with_suffix(".full.pdf").unlink()
    path.write_bytes(data[: len(data) // 2])
    return path


def corrupt_pdf(path: Path) -> Path:
    """Garbage between a PDF header and an EOF marker."""
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n")
    return path


def make_docx(path: Path) -> Path:
    """A DOCX with heading styles, paragraphs and a table."""
    import docx

    document = docx.Document()
    document.add_heading("Inverter calibration", level=1)
    document.add_heading("Current sensor offset", level=2)
    document.add_paragraph(
        "The phase current sensor offset is learned at every key-on with the gate drivers off."
    )
    table = document.add_table(rows=3, cols=2)
    for i, (a, b) in enumerate([("Parameter", "Limit"), ("Offset", "±0.05 A"), ("Gain error", "0.5 %")]):
        table.rows[i].cells[0].text = a
        table.rows[i].cells[1].text = b
    document.add_heading("Resolver alignment", level=2)
    document.add_paragraph("Resolver offset is measured with the rotor locked and stored in NVM block 0x2A.")
    buffer = io.BytesIO()
    document.save(buffer)
    path.write_bytes(buffer.getvalue())
    return path


def make_hit(text: str, title: str = "A document", rank: int = 1, section: str | None = None) -> Hit:
    """A retrieved hit for unit tests of what happens after retrieval (no store, no model)."""
    document = Document(
        f"d-{title}", f"docs/{title}.pdf", "sha", title, "application/pdf", {}, frozenset({"public"}), "2026"
    )
    return Hit(
        Chunk(f"c-{title}-{rank}", document.doc_id, 0, text, 1, section),
        1.0 / rank,
        rank,
        "reranked",
        document,
    )


TORQUE_HEADER = ["Ref.", "Fastener", "Size", "Torque (N·m)", "Angle", "Thread-locker"]
TORQUE_ROWS = [
    ["B-01", "Front caliper carrier to knuckle", "M16 x 1.5", "230 ± 15", "-", "TL-A"],
    ["B-02", "Front caliper guide pin bolt", "M10 x 1.25", "32 ± 3", "-", "None"],
    ["B-06", "Brake hose banjo bolt", "M10 x 1.0", "25 ± 2", "-", "None (new copper washers)"],
]


def table_pdf(
    path: Path,
    rows: list[list[str]] | None = None,
    header: list[str] | None = None,
    row_rules: bool = True,
    repeat_header: bool = True,
) -> Path:
    """A PDF with a heading, a paragraph and a ruled table (reportlab platypus, one Paragraph per cell).

    With ``row_rules=False`` no rule separates the body rows (only the frame, the column rules and the rule
    under the header), as in many LaTeX tables. A table longer than a page continues on the next one, with its
    header repeated when ``repeat_header``.
    """
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    header = header or TORQUE_HEADER
    rows = rows or TORQUE_ROWS
    cell = ParagraphStyle("cell", fontName="Helvetica", fontSize=8, leading=10)
    body = ParagraphStyle("body", fontName="Helvetica", fontSize=10, leading=13)
    data = [[Paragraph(c, cell) for c in r] for r in [header, *rows]]
    table = Table(data, colWidths=[40, 150, 60, 70, 40, 80], repeatRows=1 if repeat_header else 0)
    if row_rules:
        style = [("GRID", (0, 0), (-1, -1), 0.4, colors.grey)]
    else:
        style = [
            ("BOX", (0, 0), (-1, -1), 0.8, colors.black),
            ("LINEBELOW", (0, 0), (-1, 0), 0.4, colors.black),
            ("LINEAFTER", (0, 0), (-2, -1), 0.4, colors.black),
        ]
    table.setStyle(TableStyle(style))
    story = [
        Paragraph("3 Brakes", body),
        Paragraph("Tighten the brake fasteners to the torque in the table below.", body),
        table,
        Paragraph("Replace copper washers whenever a banjo bolt is loosened.", body),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    SimpleDocTemplate(str(path), pagesize=A4, invariant=1, title="Torque table").build(story)
    return path


# -- hostile DOCX files: built here from a valid one with zipfile, never committed as binaries --------------


def _rewrite_docx(path: Path, document_xml: bytes, extra: dict[str, bytes] | None = None) -> Path:
    """A copy of ``make_docx``'s file with ``word/document.xml`` (and any ``extra`` parts) replaced."""
    import zipfile

    source = io.BytesIO()
    make_docx(path)
    source.write(path.read_bytes())
    out = io.BytesIO()
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = document_xml if item.filename == "word/document.xml" else zin.read(item.filename)
            zout.writestr(item.filename, data)
        for name, data in (extra or {}).items():
            zout.writestr(name, data)
    path.write_bytes(out.getvalue())
    return path


_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _body(paragraphs: str) -> bytes:
    head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    return f"{head}<w:document {_W}><w:body>{paragraphs}</w:body></w:document>".encode()


def cut_off_docx(path: Path) -> Path:
    """A DOCX whose ``word/document.xml`` stops in the middle of an element."""
    body = _body("<w:p><w:r><w:t>Coolant pump duty is 40 %.</w:t></w:r></w:p>" * 50)
    return _rewrite_docx(path, body[: len(body) // 2])


def billion_laughs_docx(path: Path) -> Path:
    """A DOCX whose ``word/document.xml`` nests entity definitions (the billion-laughs attack)."""
    levels = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    xml = (
        '<?xml version="1.0"?>\n<!DOCTYPE w:document [' + "".join(levels) + "]>\n"
        f"<w:document {_W}><w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>"
    )
    return _rewrite_docx(path, xml.encode())


def huge_text_node_docx(path: Path, megabytes: int = 20) -> Path:
    """A DOCX with one text node of ``megabytes`` MB (libxml2 refuses nodes over 10 MB by default)."""
    text = "torque " * (megabytes * 1024 * 1024 // 7)
    return _rewrite_docx(path, _body(f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"))


def zip_bomb_docx(path: Path, megabytes: int = 200) -> Path:
    """A small DOCX that inflates to about ``megabytes`` MB of paragraphs (deflate compresses them ~300:1)."""
    paragraph = "<w:p><w:r><w:t>Coolant pump duty is 40 %.</w:t></w:r></w:p>"
    return _rewrite_docx(path, _body(paragraph * (megabytes * 1024 * 1024 // len(paragraph))))
