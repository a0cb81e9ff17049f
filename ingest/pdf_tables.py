"""Ruled tables on PDF pages: the grid from the page's drawn lines, each cell's text from its characters.

pypdf reads a table one cell per line, so a row's torque and its fastener end up in different places. This
module finds tables whose cells are drawn (grid lines or cell backgrounds), with pdfium (``pypdfium2``, fast
C code): horizontal and vertical strokes are merged into edges, their crossings give the cells, touching cells
a table, and each character goes to the cell that holds it. `place_tables` then swaps the lines pypdf read
for a table with the table's rows, so the rest of the page is pypdf's text as before. Tables that cannot be
matched to pypdf's lines, and grids that are not tables (figures, forms, diagrams), are left as pypdf read
them: the gate is "every cell's text accounted for, in reading order".
"""

from __future__ import annotations

import ctypes
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

_SNAP = 3.0  # points: strokes this close are one edge; crossings within it count
_MIN_EDGE = 4.0
_MAX_SEGMENTS = 20000  # per page: beyond this the page is a drawing, not a table
_MAX_PATH_SEGMENTS = 400  # per path: more is a curve or a plot
_MAX_EMPTY_SHARE = 0.5  # a grid with more empty cells than this is a form or a diagram
_LINE = 2.5  # points: characters this close vertically are on one line


@dataclass(frozen=True, slots=True)
class PdfTable:
    """A table on a page: rows of cell texts, the header first; ``top`` is its distance from the page top."""

    top: float
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class _Cell:
    left: float
    top: float
    right: float
    bottom: float


def _segments(page: Any, height: float) -> Iterator[tuple[float, float, float, float]]:
    """Straight segments of the page's path objects (x0, t0, x1, t1), in points from the top-left.

    Uses pdfium's C API directly: a page can hold tens of thousands of objects (glyph runs, curves), and only
    the paths matter. Paths inside form XObjects are read with their form's matrix.
    """
    import pypdfium2.raw as pdfium_c

    matrix = pdfium_c.FS_MATRIX()
    point_x, point_y = ctypes.c_float(), ctypes.c_float()
    budget = _MAX_SEGMENTS

    def walk(
        count: int, get: Any, outer: tuple[float, ...] | None, depth: int
    ) -> Iterator[tuple[float, ...]]:
        nonlocal budget
        for i in range(count):
            obj = get(i)
            kind = pdfium_c.FPDFPageObj_GetType(obj)
            if kind not in (pdfium_c.FPDF_PAGEOBJ_PATH, pdfium_c.FPDF_PAGEOBJ_FORM):
                continue
            pdfium_c.FPDFPageObj_GetMatrix(obj, matrix)
            own = (matrix.a, matrix.b, matrix.c, matrix.d, matrix.e, matrix.f)
            composed = _compose(own, outer) if outer else own
            if kind == pdfium_c.FPDF_PAGEOBJ_FORM:
                if depth < 4:
                    yield from walk(
                        pdfium_c.FPDFFormObj_CountObjects(obj),
                        lambda j, form=obj: pdfium_c.FPDFFormObj_GetObject(form, j),
                        composed,
                        depth + 1,
                    )
                continue
            n = pdfium_c.FPDFPath_CountSegments(obj)
            if n > _MAX_PATH_SEGMENTS:
                continue  # a curve, a plot or a glyph outline, not a rule
            budget -= n
            if budget < 0:
                return
            a, b, c, d, e, f = composed
            start = previous = None
            for k in range(n):
                segment = pdfium_c.FPDFPath_GetPathSegment(obj, k)
                pdfium_c.FPDFPathSegment_GetPoint(segment, point_x, point_y)
                x, y = point_x.value, point_y.value
                point = (a * x + c * y + e, height - (b * x + d * y + f))
                kind = pdfium_c.FPDFPathSegment_GetType(segment)
                if kind == pdfium_c.FPDF_SEGMENT_MOVETO:
                    start = point
                elif kind == pdfium_c.FPDF_SEGMENT_LINETO and previous is not None:
                    yield (*previous, *point)
                previous = point
                if pdfium_c.FPDFPathSegment_GetClose(segment) and start is not None and previous != start:
                    yield (*point, *start)

    raw = page.raw
    for segment in walk(
        pdfium_c.FPDFPage_CountObjects(raw), lambda j: pdfium_c.FPDFPage_GetObject(raw, j), None, 0
    ):
        yield segment[0], segment[1], segment[2], segment[3]


def _compose(inner: tuple[float, ...], outer: tuple[float, ...]) -> tuple[float, ...]:
    a, b, c, d, e, f = inner
    A, B, C, D, E, F = outer  # noqa: N806 - the usual names of an affine matrix
    return (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D, e * A + f * C + E, e * B + f * D + F)


def _merge(lines: list[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
    """(position, start, end) strokes snapped to common positions and joined where they touch."""
    lines.sort()
    clusters: list[list[tuple[float, float, float]]] = []
    for line in lines:
        if clusters and line[0] - clusters[-1][-1][0] <= _SNAP:
            clusters[-1].append(line)
        else:
            clusters.append([line])
    merged: list[tuple[float, float, float]] = []
    for cluster in clusters:
        position = sum(p for p, _, _ in cluster) / len(cluster)
        spans = sorted((s, e) for _, s, e in cluster)
        current = list(spans[0])
        for s, e in spans[1:]:
            if s <= current[1] + _SNAP:
                current[1] = max(current[1], e)
            else:
                merged.append((position, current[0], current[1]))
                current = [s, e]
        merged.append((position, current[0], current[1]))
    return [m for m in merged if m[2] - m[1] >= _MIN_EDGE]


def _cells(segments: Sequence[tuple[float, float, float, float]]) -> list[_Cell]:
    """The smallest rectangles whose four sides are edges (pdfplumber's lattice method)."""
    horizontal = _merge([(t0, min(x0, x1), max(x0, x1)) for x0, t0, x1, t1 in segments if abs(t0 - t1) < 1])
    vertical = _merge([(x0, min(t0, t1), max(t0, t1)) for x0, t0, x1, t1 in segments if abs(x0 - x1) < 1])
    if len(horizontal) < 2 or len(vertical) < 2:
        return []
    points: set[tuple[float, float]] = set()
    for t, hs, he in horizontal:
        for x, vs, ve in vertical:
            if hs - _SNAP <= x <= he + _SNAP and vs - _SNAP <= t <= ve + _SNAP:
                points.add((x, t))

    def joined_h(t: float, x0: float, x1: float) -> bool:
        return any(abs(p - t) < 0.01 and s - _SNAP <= x0 and x1 <= e + _SNAP for p, s, e in horizontal)

    def joined_v(x: float, t0: float, t1: float) -> bool:
        return any(abs(p - x) < 0.01 and s - _SNAP <= t0 and t1 <= e + _SNAP for p, s, e in vertical)

    cells = []
    ordered = sorted(points, key=lambda p: (p[1], p[0]))
    for x, t in ordered:
        below = sorted(q for px, q in points if px == x and q > t)
        right = sorted(r for r, pt in points if pt == t and r > x)
        found = False
        for b in below:
            if not joined_v(x, t, b):
                break
            for r in right:
                if not joined_h(t, x, r):
                    break
                if (r, b) in points and joined_v(r, t, b) and joined_h(b, x, r):
                    cells.append(_Cell(x, t, r, b))
                    found = True
                    break
            if found:
                break
    return cells


def _tables(cells: list[_Cell]) -> list[list[_Cell]]:
    """Cells grouped into tables: cells that share a corner belong together."""
    parent = list(range(len(cells)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple[float, float], int] = {}
    for i, cell in enumerate(cells):
        corners = (
            (cell.left, cell.top),
            (cell.right, cell.top),
            (cell.left, cell.bottom),
            (cell.right, cell.bottom),
        )
        for corner in corners:
            if corner in owner:
                parent[root(i)] = root(owner[corner])
            else:
                owner[corner] = i
    groups: dict[int, list[_Cell]] = {}
    for i, cell in enumerate(cells):
        groups.setdefault(root(i), []).append(cell)
    return list(groups.values())


def _characters(textpage: Any, height: float) -> list[tuple[str, float, float]]:
    """(character, x, baseline t) of the page's text in pdfium's reading order; spaces get no position."""
    import pypdfium2.raw as pdfium_c

    out = []
    left, right, bottom, top, origin_x, origin_y = (ctypes.c_double() for _ in range(6))
    for i in range(pdfium_c.FPDFText_CountChars(textpage.raw)):
        code = pdfium_c.FPDFText_GetUnicode(textpage.raw, i)
        char = chr(code) if code else " "
        if char.isspace() or code in (0xFFFE, 0xFFFF, 0x02):
            out.append((" ", -1.0, -1.0))
            continue
        pdfium_c.FPDFText_GetCharBox(textpage.raw, i, left, right, bottom, top)
        pdfium_c.FPDFText_GetCharOrigin(textpage.raw, i, origin_x, origin_y)
        out.append((char, (left.value + right.value) / 2, height - origin_y.value))  # baseline: one per line
    return out


def _grid(cells: list[_Cell], chars: list[tuple[str, float, float]]) -> PdfTable | None:
    """The table's rows (cells spanning several columns or rows keep their text in the first one)."""
    xs = sorted({c.left for c in cells})
    ts = sorted({c.top for c in cells})
    if len(xs) < 2 or len(ts) < 2:
        return None
    lines: dict[tuple[int, int], list[tuple[float, list[str]]]] = {}  # cell -> text lines (t, chars)
    index = {id(c): (ts.index(c.top), xs.index(c.left)) for c in cells}
    current: tuple[int, int] | None = None
    for char, x, t in chars:
        if x < 0:
            if current is not None:
                lines[current][-1][1].append(" ")
            continue
        current = None
        for cell in cells:
            if cell.left <= x <= cell.right and cell.top <= t <= cell.bottom:
                current = index[id(cell)]
                held = lines.setdefault(current, [])
                if not held or abs(t - held[-1][0]) > _LINE:
                    held.append((t, []))
                held[-1][1].append(char)
                break
    rows: list[tuple[str, ...]] = []
    for r in range(len(ts)):
        cell_lines = [
            [(t, " ".join("".join(text).split())) for t, text in lines.get((r, col), [])]
            for col in range(len(xs))
        ]
        rows.extend(_split_row(cell_lines))
    rows = [row for row in rows if any(row)]
    used = [col for col in range(len(xs)) if any(row[col] for row in rows)]
    rows = [tuple(row[col] for col in used) for row in rows]
    if len(rows) < 2 or len(used) < 2:
        return None
    body = [cell for row in rows[1:] for cell in row]
    if sum(not cell for cell in body) > _MAX_EMPTY_SHARE * len(body):
        return None
    return PdfTable(min(c.top for c in cells), tuple(rows))


def _split_row(cells: list[list[tuple[float, str]]]) -> list[tuple[str, ...]]:
    """One grid row, or several when it holds several rows with no rule between them.

    Tables ruled only above and below the header and at the end (LaTeX's booktabs style) come out as one
    grid row whose every cell has the same number of lines on the same baselines: each line is a row. A cell
    that wraps while its neighbours do not keeps its lines together.
    """
    filled = [c for c in cells if c]
    counts = {len(c) for c in filled}
    k = counts.pop() if len(counts) == 1 else 1
    aligned = k >= 2 and all(abs(c[i][0] - filled[0][i][0]) <= _LINE for c in filled for i in range(k))
    if aligned and (k >= 3 or len(filled) >= 3):
        return [tuple(c[i][1] if c else "" for c in cells) for i in range(k)]
    return [tuple(" ".join(text for _, text in c) for c in cells)]


def page_tables(page: Any) -> list[PdfTable]:
    """The ruled tables of one pdfium page, top to bottom."""
    height = page.get_height()
    cells = _cells(list(_segments(page, height)))
    if len(cells) < 4:
        return []
    textpage = page.get_textpage()
    try:
        chars = _characters(textpage, height)
    finally:
        textpage.close()
    tables = [_grid(group, chars) for group in _tables(cells) if len(group) >= 4]
    return sorted((t for t in tables if t is not None), key=lambda t: t.top)


def document_tables(path: str) -> dict[int, list[PdfTable]]:
    """Tables per 1-based page of a PDF (pages without tables are left out); {} if pdfium cannot read it."""
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(path)
    except pypdfium2.PdfiumError:
        return {}
    out: dict[int, list[PdfTable]] = {}
    try:
        for number in range(len(pdf)):
            try:
                page = pdf[number]
            except pypdfium2.PdfiumError:
                continue  # pypdf may still read it: that page simply has no tables
            try:
                tables = page_tables(page)
            except (pypdfium2.PdfiumError, ValueError, ctypes.ArgumentError):
                tables = []
            finally:
                page.close()
            if tables:
                out[number + 1] = tables
    finally:
        pdf.close()
    return out


def _squash(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


def place_tables(lines: Sequence[str], tables: Sequence[PdfTable]) -> list[str | PdfTable]:
    """pypdf's lines of a page with the lines of each table replaced by the table.

    A table replaces a run of consecutive lines whose text, without whitespace, is exactly the table's cells
    in row order; a table with no such run is dropped and its lines stay as they are.

    Example:
        >>> table = PdfTable(0, (("Size", "Torque"), ("M16", "230")))
        >>> place_tables(["Brakes", "Size", "Torque", "M16", "230", "End"], [table])
        ['Brakes', PdfTable(top=0, rows=(('Size', 'Torque'), ('M16', '230'))), 'End']
    """
    out: list[str | PdfTable] = []
    squashed = [_squash(line) for line in lines]
    position = 0
    for table in tables:
        target = "".join(_squash(cell) for row in table.rows for cell in row)
        span = _find(squashed, target, position)
        if span is None:
            continue
        start, end = span
        out.extend(lines[position:start])
        out.append(table)
        position = end
    out.extend(lines[position:])
    return out


def _find(squashed: Sequence[str], target: str, begin: int) -> tuple[int, int] | None:
    """The first run of lines from ``begin`` whose joined text is exactly ``target``."""
    for start in range(begin, len(squashed)):
        if not squashed[start] or not target.startswith(squashed[start]):
            continue
        consumed, end = 0, start
        while end < len(squashed) and consumed < len(target):
            piece = squashed[end]
            if piece and not target.startswith(piece, consumed):
                break
            consumed += len(piece)
            end += 1
        if consumed == len(target):
            return start, end
    return None
