"""Table rows in chunk text: one canonical form for every format, and a readable rendering of a row.

Every loader writes a table row as one Markdown pipe row, ``| B-01 | Front caliper carrier to knuckle |``
(a ``|`` inside a cell is escaped as ``\\|``), and the first row of a table in a chunk is its header (the
chunker repeats it in continuation chunks). Readers never see the pipes: `render_row` turns a row into one
line such as ``Fastener: Front caliper carrier to knuckle · Size: M16 x 1.5 · Torque: 230 ± 15 N·m``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["TableRun", "format_row", "is_row", "parse_row", "render_row", "table_runs"]

SEPARATOR = " · "
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_EMPTY = frozenset({"", "-", "–", "—", "--"})  # "nothing in this cell"
_UNIT = re.compile(r"^(?P<name>.*?\S)\s*[(\[](?P<unit>[^()\[\]]{1,12})[)\]]$")
_UNIT_TEXT = re.compile(r"^[^\s\d]*\S*$")  # N·m, mm, °C, V/A, kPa, % (no digits first, no spaces)


def format_row(cells: Sequence[str]) -> str:
    """A table row in the canonical chunk form.

    Example:
        >>> format_row(["B-01", "Front caliper carrier to knuckle", "M16 x 1.5"])
        '| B-01 | Front caliper carrier to knuckle | M16 x 1.5 |'
    """
    return "| " + " | ".join(" ".join(c.split()).replace("|", "\\|") for c in cells) + " |"


def is_row(line: str) -> bool:
    """Whether a line of chunk text is a table row (starts with ``|`` and has at least one more)."""
    stripped = line.strip()
    return stripped.startswith("|") and len(_CELL_SPLIT.findall(stripped)) >= 2


def parse_row(line: str) -> list[str] | None:
    """The cells of a table row (None for a line that is not one).

    Example:
        >>> parse_row("| Torque (N·m) | 230 ± 15 | a \\\\| b |")
        ['Torque (N·m)', '230 ± 15', 'a | b']
    """
    if not is_row(line):
        return None
    stripped = line.strip()[1:]
    if stripped.endswith("|") and not stripped.endswith("\\|"):
        stripped = stripped[:-1]
    return [" ".join(c.split()).replace("\\|", "|") for c in _CELL_SPLIT.split(stripped)]


def _with_unit(name: str, value: str) -> tuple[str, str]:
    """``("Torque (N·m)", "230 ± 15")`` becomes ``("Torque", "230 ± 15 N·m")``: a unit goes to a number."""
    match = _UNIT.match(name)
    if match is None or not any(c.isdigit() for c in value) or not _UNIT_TEXT.match(match.group("unit")):
        return name, value
    unit = match.group("unit").strip()
    if value.rstrip().endswith(unit):
        return match.group("name"), value
    return match.group("name"), f"{value} {unit}"


_INNER_STOP = re.compile(r"[.](?=\s)")  # "Req. ID" -> "Req ID"


def render_row(cells: Sequence[str], header: Sequence[str] | None = None) -> str:
    """One readable line for a table row: ``header: value`` pairs, or the cells joined by `` · ``.

    Empty cells and ``-`` are left out. A unit in a header (``Torque (N·m)``) follows its value. A two-column
    row reads ``first: second`` (a key-value table, or a code and its meaning). Without a header that matches
    the row, the cells are joined.

    Example:
        >>> header = ["Ref.", "Fastener", "Size", "Torque (N·m)", "Angle", "Thread-locker"]
        >>> render_row(["B-01", "Caliper carrier", "M16 x 1.5", "230 ± 15", "-", "TL-A"], header)
        'Ref: B-01 · Fastener: Caliper carrier · Size: M16 x 1.5 · Torque: 230 ± 15 N·m · Thread-locker: TL-A'
        >>> render_row(["Front caliper carrier to knuckle", "M16 x 1.5", "230 ± 15 N·m", "TL-A"])
        'Front caliper carrier to knuckle · M16 x 1.5 · 230 ± 15 N·m · TL-A'
    """
    cells = [" ".join(c.split()) for c in cells]
    filled = [c for c in cells if c not in _EMPTY]
    if len(cells) == 2 and len(filled) == 2:
        return f"{cells[0]}: {cells[1]}"
    if header is None or len(header) != len(cells) or cells == [" ".join(h.split()) for h in header]:
        return SEPARATOR.join(filled)
    parts = []
    for name, value in zip(header, cells, strict=True):
        name = " ".join(name.split())
        if value in _EMPTY:
            continue
        if not name:
            parts.append(value)
            continue
        name, value = _with_unit(name, value)
        # "Req. ID" -> "Req ID": a full stop inside a header would end the sentence for the citation check.
        name = _INNER_STOP.sub("", name).rstrip(".:")
        parts.append(f"{name}: {value}")
    return SEPARATOR.join(parts)


@dataclass(frozen=True, slots=True)
class TableRun:
    """Consecutive table rows in a text: the line range, the header (the first row) and the body rows."""

    start: int  # index of the first line
    end: int  # index after the last line
    header: list[str]
    rows: list[list[str]]


def table_runs(lines: Sequence[str]) -> list[TableRun]:
    """The runs of table rows among ``lines``; the first row of each run is taken as its header."""
    runs: list[TableRun] = []
    i = 0
    while i < len(lines):
        first = parse_row(lines[i])
        if first is None:
            i += 1
            continue
        j = i + 1
        rows: list[list[str]] = []
        while j < len(lines) and (cells := parse_row(lines[j])) is not None:
            rows.append(cells)
            j += 1
        runs.append(TableRun(i, j, first, rows))
        i = j
    return runs
