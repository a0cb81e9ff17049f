"""Format loaders: each turns a file into ordered ``Block``s that know their page and section path.

Loaders raise ``LoadError`` with a one-line reason for anything they cannot read; they never return a partial
document.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from assistant.tables import format_row, parse_row
from ingest.headings import HeadingTracker
from ingest.pdf_tables import PdfTable, document_tables, place_tables

BlockKind = Literal["text", "heading", "table_header", "table_row"]


class LoadError(Exception):
    """A file cannot be loaded; ``str(err)`` is the one-line reason shown to the user."""


@dataclass(frozen=True, slots=True)
class Block:
    """A unit of text in reading order: a line or paragraph, a heading, or a table row."""

    text: str
    page: int | None
    section: tuple[str, ...]
    kind: BlockKind = "text"
    table: int | None = None  # which table a row belongs to, so continuation chunks can repeat its header


@dataclass(frozen=True, slots=True)
class Parsed:
    """A loaded file."""

    mime: str
    title: str | None
    pages: int | None
    blocks: list[Block]


MIME_BY_SUFFIX = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".html": "text/html",
    ".htm": "text/html",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".text": "text/plain",
}


def supported(path: Path) -> bool:
    """Whether a loader exists for this file's extension."""
    return path.suffix.lower() in MIME_BY_SUFFIX


# Formats that are ZIP packages: their decompressed size is checked before they are parsed.
ZIP_SUFFIXES = frozenset({".docx"})
DEFAULT_MAX_UNZIPPED = 100 * 1024 * 1024


def load(path: Path, max_unzipped: int = DEFAULT_MAX_UNZIPPED) -> Parsed:
    """Load any supported file.

    Args:
        path: the file.
        max_unzipped: the most bytes a ZIP-based file (DOCX) may decompress to.

    Raises:
        LoadError: unsupported type, unreadable, encrypted, corrupt, binary, empty, or a ZIP that inflates to
            more than ``max_unzipped`` bytes.
    """
    suffix = path.suffix.lower()
    loader = _LOADERS.get(suffix)
    if loader is None:
        raise LoadError(f"unsupported file type {suffix or '(none)'}")
    if suffix in ZIP_SUFFIXES:
        check_unzipped_size(path, max_unzipped)
    parsed = _without_nul(loader(path))
    if not any(b.text.strip() for b in parsed.blocks):
        raise LoadError(
            "no extractable text" + (" (a scanned PDF? OCR is not supported)" if suffix == ".pdf" else "")
        )
    return parsed


def _without_nul(parsed: Parsed) -> Parsed:
    """The text with NUL characters removed: never content (a PDF's padding, a stray byte in a text file), and
    PostgreSQL text cannot hold them, so both backends store the same text."""
    if "\x00" not in (parsed.title or "") and not any(
        "\x00" in b.text or any("\x00" in h for h in b.section) for b in parsed.blocks
    ):
        return parsed
    blocks = [
        replace(b, text=b.text.replace("\x00", ""), section=tuple(h.replace("\x00", "") for h in b.section))
        for b in parsed.blocks
    ]
    title = parsed.title.replace("\x00", "") if parsed.title else parsed.title
    return replace(parsed, title=title, blocks=blocks)


def check_unzipped_size(path: Path, limit: int) -> None:
    """Refuse a ZIP whose members add up to more than ``limit`` bytes, before anything is decompressed.

    The sizes come from the central directory. A member that claims less than it holds cannot get past this:
    ``zipfile`` stops reading at the claimed size and the CRC check then fails (a corrupt file).

    Raises:
        LoadError: not a ZIP, or over the limit.
    """
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        kind = path.suffix.lstrip(".").upper()
        raise LoadError(f"corrupt {kind} ({type(err).__name__}: {_short(err)})") from err
    total = sum(m.file_size for m in members)
    if total > limit:
        raise LoadError(
            f"decompresses to {total / 1048576:.0f} MB, over the {limit / 1048576:g} MB limit "
            "(EKA_MAX_UNZIPPED_MB)"
        )


# -- text decoding -------------------------------------------------------------------------------------------


def read_text(path: Path) -> str:
    """Decode a text file (UTF-8, else Windows-1252); reject binary content."""
    data = path.read_bytes()
    if not data.strip():
        raise LoadError("empty file")
    if b"\x00" in data[:65536]:
        raise LoadError("binary content in a text file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    controls = sum(1 for c in text[:65536] if ord(c) < 32 and c not in "\n\r\t\f")
    if text.count("\ufffd") > len(text) // 100 or controls > len(text[:65536]) // 100:
        raise LoadError("binary content in a text file")
    return text.replace("\r\n", "\n").replace("\r", "\n")


# -- PDF -----------------------------------------------------------------------------------------------------


def _pdf_lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.split("\n") if line.strip()]


def _repeating_lines(pages: list[list[str]]) -> set[str]:
    """Running headers and footers: lines near a page edge that recur on many pages.

    A line counts when the same text recurs, or when the same text with a number recurs and that number
    follows the page number (``page 7``, ``7 Volume I: ...``). A quarter of the pages is enough, because
    books alternate headers between even and odd pages. Headings that merely look alike ("1 Scope",
    "2 Design") do not follow the page numbers, so they stay.
    """
    if len(pages) < 3:
        return set()
    threshold = max(3, len(pages) * 0.25)
    exact: Counter[str] = Counter()
    shaped: dict[str, list[tuple[int, list[int]]]] = {}
    for page, lines in enumerate(pages, start=1):
        for line in {" ".join(ln.split()) for ln in lines[:3] + lines[-3:]}:
            exact[line] += 1
            numbers = [int(n) for n in re.findall(r"\d+", line)[:6] if len(n) < 6]
            if numbers:
                shaped.setdefault(_shape(line), []).append((page, numbers))
    boiler = {_shape(line) for line, n in exact.items() if n >= threshold}
    for shape, seen in shaped.items():
        if len(seen) < threshold:
            continue
        offsets = Counter(n - page for page, numbers in seen for n in set(numbers))
        if offsets and offsets.most_common(1)[0][1] >= 0.8 * len(seen):
            boiler.add(shape)
    return boiler


def _shape(line: str) -> str:
    return re.sub(r"\d+", "#", " ".join(line.split()).lower())


def load_pdf(path: Path) -> Parsed:
    """PDF via pypdf, one page at a time; pages are 1-based physical page indexes.

    Ruled tables (found by `ingest.pdf_tables`) replace the lines pypdf read for them: one block per row,
    in the canonical ``| cell | cell |`` form, the header row first.
    """
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    with path.open("rb") as fh:
        head = fh.read(1024)
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - 2048))
        tail = fh.read()
    if not head.strip():
        raise LoadError("empty file")
    if b"%PDF-" not in head:
        raise LoadError("not a PDF (no %PDF header)")
    if b"%%EOF" not in tail:
        raise LoadError("truncated PDF (no %%EOF marker at the end)")
    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError("encrypted PDF (a password is required)")
        count = len(reader.pages)
        raw_pages = [_pdf_lines(reader.pages[i].extract_text() or "") for i in range(count)]
        title = reader.metadata.title if reader.metadata else None
    except LoadError:
        raise
    except FileNotDecryptedError as err:
        raise LoadError("encrypted PDF (a password is required)") from err
    except (
        PdfReadError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        OSError,
        AssertionError,
        RecursionError,
        ZeroDivisionError,
        NotImplementedError,
    ) as err:
        raise LoadError(f"corrupt PDF ({type(err).__name__}: {_short(err)})") from err
    if count == 0:
        raise LoadError("PDF has no pages")
    boiler = _repeating_lines(raw_pages)
    tables = document_tables(str(path))
    tracker = HeadingTracker()
    blocks: list[Block] = []
    table_count = 0
    for number, lines in enumerate(raw_pages, start=1):
        # Tables first: a table's cells at a page edge may repeat from page to page like a running header.
        placed = place_tables(lines, tables.get(number, []))
        items = [item for item in placed if not isinstance(item, str) or _shape(item) not in boiler]
        for i, item in enumerate(items):
            if isinstance(item, PdfTable):
                table_count += 1
                blocks.extend(_table_blocks(item, number, tracker.section(), table_count, blocks, i == 0))
                continue
            following = items[i + 1] if i + 1 < len(items) else None
            if tracker.numbered(item, following if isinstance(following, str) else None):
                blocks.append(Block(" ".join(item.split()), number, tracker.section(), "heading"))
            else:
                blocks.append(Block(item, number, tracker.section()))
    first = next((b.text for b in blocks), None)
    return Parsed(MIME_BY_SUFFIX[".pdf"], (str(title).strip() if title else None) or first, count, blocks)


def _table_blocks(
    table: PdfTable, page: int, section: tuple[str, ...], number: int, before: list[Block], first: bool
) -> list[Block]:
    """A PDF table as blocks: title rows as text, the header row, then one block per row.

    A table that opens a page with the width of the table that closed the previous page, but not its header,
    continues that table: the previous header is repeated so the page's chunks still have it.
    """
    out: list[Block] = []
    rows = list(table.rows)
    while len(rows) > 2 and sum(bool(cell) for cell in rows[0]) == 1:  # a title spanning the table
        out.append(Block(" ".join(c for c in rows.pop(0) if c), page, section))
    previous = before[-1] if before and first and not out else None
    if previous is not None and previous.kind.startswith("table") and previous.page == page - 1:
        header = next(b for b in reversed(before) if b.table == previous.table and b.kind == "table_header")
        cells = parse_row(header.text) or []
        if len(cells) == len(rows[0]) and list(rows[0]) != cells:
            out.append(Block(header.text, page, section, "table_header", number))
            return out + [Block(format_row(r), page, section, "table_row", number) for r in rows]
    out.append(Block(format_row(rows[0]), page, section, "table_header", number))
    return out + [Block(format_row(r), page, section, "table_row", number) for r in rows[1:]]


def _short(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text[:160] if text else "unreadable"


# -- DOCX ----------------------------------------------------------------------------------------------------


def load_docx(path: Path) -> Parsed:
    """DOCX via python-docx: heading styles (or numbered heading paragraphs), paragraphs and table rows."""
    import zipfile

    from docx.opc.exceptions import PackageNotFoundError
    from lxml import etree

    try:
        return _read_docx(path)
    except etree.LxmlError as err:  # cut-off XML, entity bombs, text nodes over libxml2's limits
        raise LoadError(f"corrupt DOCX (XML: {_short(err)})") from err
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError) as err:
        raise LoadError(f"corrupt DOCX ({type(err).__name__}: {_short(err)})") from err


def _read_docx(path: Path) -> Parsed:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = docx.Document(str(path))
    tracker = HeadingTracker()
    blocks: list[Block] = []
    tables = 0
    title = (document.core_properties.title or "").strip() or None
    for element in document.element.body.iterchildren():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = Paragraph(element, document)
            text = " ".join(paragraph.text.split())
            if not text:
                continue
            style = (paragraph.style.name or "") if paragraph.style is not None else ""
            level = _style_level(style)
            if level is not None:
                if level == 0:
                    title = title or text
                tracker.push(max(level, 1), text)
                blocks.append(Block(text, None, tracker.section(), "heading"))
            elif tracker.numbered(text):
                blocks.append(Block(text, None, tracker.section(), "heading"))
            else:
                blocks.append(Block(text, None, tracker.section()))
        elif tag == "tbl":
            tables += 1
            for i, row in enumerate(Table(element, document).rows):
                cells: list[str] = []
                for cell in row.cells:
                    value = " ".join(cell.text.split())
                    if not cells or value != cells[-1]:  # merged cells repeat their text
                        cells.append(value)
                if any(cells):
                    kind: BlockKind = "table_header" if i == 0 else "table_row"
                    blocks.append(Block(format_row(cells), None, tracker.section(), kind, tables))
    return Parsed(MIME_BY_SUFFIX[".docx"], title, None, blocks)


def _style_level(style: str) -> int | None:
    if style == "Title":
        return 0
    match = re.fullmatch(r"Heading\s*(\d)", style)
    return int(match.group(1)) if match else None


# -- HTML ----------------------------------------------------------------------------------------------------

_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_TEXT_TAGS = ("p", "li", "pre", "dt", "dd", "blockquote", "figcaption", "caption", "td", "th")


def load_html(path: Path) -> Parsed:
    """HTML via BeautifulSoup: headings give the section path; tables are read row by row."""
    from bs4 import BeautifulSoup, Tag

    soup = BeautifulSoup(read_text(path), "lxml")
    for junk in soup(["script", "style", "noscript", "template", "nav", "head"]):
        if junk.name != "head":
            junk.decompose()
    title_tag = soup.find("title")
    title = " ".join(title_tag.get_text(" ").split()) if title_tag else None
    body = soup.body or soup
    tracker = HeadingTracker()
    blocks: list[Block] = []
    tables = 0

    def visit(node: Tag) -> None:
        nonlocal tables
        for child in node.children:
            if not isinstance(child, Tag):
                text = " ".join(str(child).split())
                if text and node.name not in ("tr", "table", "tbody", "thead", "ul", "ol", "dl"):
                    blocks.append(Block(text, None, tracker.section()))
                continue
            name = child.name
            if name in _HEADINGS:
                text = " ".join(child.get_text(" ").split())
                if text:
                    tracker.push(
                        int(name[1])
                        if not re.match(r"^\d+(\.\d+)*\.?\s", text)
                        else text.split()[0].rstrip(".").count(".") + 1,
                        text,
                    )
                    blocks.append(Block(text, None, tracker.section(), "heading"))
            elif name == "table":
                tables += 1
                for i, row in enumerate(child.find_all("tr")):
                    cells = [" ".join(c.get_text(" ").split()) for c in row.find_all(("td", "th"))]
                    if any(cells):
                        header = i == 0 or all(c.name == "th" for c in row.find_all(("td", "th")))
                        blocks.append(
                            Block(
                                format_row(cells),
                                None,
                                tracker.section(),
                                "table_header" if header else "table_row",
                                tables,
                            )
                        )
            elif name in ("br", "hr", "img"):
                continue
            elif name in _TEXT_TAGS and not child.find(("p", "table", "ul", "ol", "dl", *_HEADINGS)):
                raw = child.get_text("\n" if name == "pre" else " ")
                text = raw.strip("\n") if name == "pre" else " ".join(raw.split())
                if text.strip():
                    blocks.append(Block(text, None, tracker.section()))
            else:
                visit(child)

    visit(body)
    if not title:
        title = next((b.text for b in blocks if b.kind == "heading"), None)
    return Parsed(MIME_BY_SUFFIX[".html"], title, None, _merge_inline(blocks))


def _merge_inline(blocks: list[Block]) -> list[Block]:
    """Join runs of tiny inline text fragments (bare text between tags) into one block."""
    out: list[Block] = []
    for block in blocks:
        if (
            out
            and block.kind == "text"
            and out[-1].kind == "text"
            and out[-1].section == block.section
            and (len(block.text) < 40 or len(out[-1].text) < 40)
        ):
            out[-1] = Block(f"{out[-1].text} {block.text}", None, block.section)
        else:
            out.append(block)
    return out


# -- Markdown ------------------------------------------------------------------------------------------------

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


def load_markdown(path: Path) -> Parsed:
    """Markdown: ``#`` headings give the section path; table rows stay whole; fenced code is kept verbatim."""
    lines = read_text(path).split("\n")
    tracker = HeadingTracker()
    blocks: list[Block] = []
    paragraph: list[str] = []
    title: str | None = None
    tables = 0
    in_table = False
    fence: str | None = None

    def flush() -> None:
        if paragraph:
            blocks.append(Block("\n".join(paragraph), None, tracker.section()))
            paragraph.clear()

    for line in lines:
        stripped = line.strip()
        if fence is not None:
            paragraph.append(line)
            if stripped.startswith(fence):
                fence = None
                flush()
            continue
        if stripped.startswith(("```", "~~~")):
            flush()
            fence = stripped[:3]
            paragraph.append(line)
            continue
        heading = _MD_HEADING.match(stripped)
        if heading and not line.startswith("    "):
            flush()
            in_table = False
            level, text = len(heading.group(1)), heading.group(2).strip()
            title = title or (text if level == 1 else None)
            tracker.push(level, text)
            blocks.append(Block(stripped, None, tracker.section(), "heading"))
            continue
        if stripped.startswith("|"):
            flush()
            if _MD_TABLE_SEPARATOR.match(stripped):
                continue
            if not in_table:
                tables += 1
                in_table = True
                blocks.append(Block(stripped, None, tracker.section(), "table_header", tables))
            else:
                blocks.append(Block(stripped, None, tracker.section(), "table_row", tables))
            continue
        in_table = False
        if not stripped:
            flush()
        else:
            paragraph.append(line.rstrip())
    flush()
    return Parsed(MIME_BY_SUFFIX[".md"], title, None, blocks)


# -- plain text ----------------------------------------------------------------------------------------------

_UNDERLINE = re.compile(r"^(?:-{3,}|={3,})$")
_RFC_RUNNING = re.compile(r"^(RFC \d+\s{2,}.*\s{2,}\w+ \d{4}|.*\s{2,}\[Page \d+\])$")


def load_text(path: Path) -> Parsed:
    """Plain text: numbered heading lines (``3.8.4.  TCP Keep-Alives``) and short standalone title lines
    start sections; paragraphs are blank-line separated; running RFC page headers and footers are dropped."""
    lines = [ln.rstrip() for ln in read_text(path).replace("\f", "\n").split("\n")]
    lines = [ln for ln in lines if not _RFC_RUNNING.match(ln.strip())]
    tracker = HeadingTracker()
    blocks: list[Block] = []
    paragraph: list[str] = []
    title: str | None = None

    def flush() -> None:
        if paragraph:
            blocks.append(Block("\n".join(paragraph), None, tracker.section()))
            paragraph.clear()

    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or _UNDERLINE.match(stripped):
            flush()
            continue
        if title is None:
            title = stripped
        after = lines[i + 1].strip() if i + 1 < len(lines) else ""
        standalone = (i == 0 or not lines[i - 1].strip()) and (not after or bool(_UNDERLINE.match(after)))
        if not line[0].isspace() and (
            tracker.numbered(stripped)
            or (standalone and _title_line(stripped) and _push_plain(tracker, stripped))
        ):
            flush()
            blocks.append(Block(stripped, None, tracker.section(), "heading"))
            continue
        paragraph.append(line)
    flush()
    return Parsed(MIME_BY_SUFFIX[".txt"], title, None, blocks)


def _title_line(line: str) -> bool:
    words = line.split()
    return (
        1 <= len(words) <= 8
        and line[0].isupper()
        and not line.endswith((".", ",", ";", "?", "!"))
        and sum(c.isalpha() for c in line) >= 3
        and not line.startswith(("-", "*", "+", "|"))
        and "\t" not in line
    )


def _push_plain(tracker: HeadingTracker, line: str) -> bool:
    # An unnumbered title line belongs one level below the current numbered section, or at the top.
    tracker.push((len(tracker.number) + 1) if tracker.number else 1, line)
    return True


_LOADERS: dict[str, Callable[[Path], Parsed]] = {
    ".pdf": load_pdf,
    ".docx": load_docx,
    ".html": load_html,
    ".htm": load_html,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".txt": load_text,
    ".text": load_text,
}
