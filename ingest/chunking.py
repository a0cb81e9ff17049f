"""Structure-aware chunking: pack blocks into passages sized for the embedding model's window.

Rules: a chunk never crosses a PDF page or a section boundary; table rows are never split between chunks
(a continuation chunk repeats the table's header row); a block larger than the budget is split at sentence,
then word, boundaries; consecutive chunks of a section overlap by a few trailing units; a section too small
to stand alone is merged into the next one on the same page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from assistant.types import SECTION_SEPARATOR
from ingest.loaders import Block

TokenCount = Callable[[str], int]

_SENTENCE = re.compile(r"(?<=[.!?;:])\s+(?=[A-Z0-9(\"'])")


@dataclass(frozen=True, slots=True)
class Draft:
    """A chunk before it has an id: text, page and section path."""

    ordinal: int
    text: str
    page: int | None
    section: str | None


@dataclass(frozen=True, slots=True)
class _Unit:
    text: str
    tokens: int
    kind: str
    table: int | None


def _split_long(text: str, count: TokenCount, budget: int) -> list[str]:
    """Split text that exceeds the budget at line, then sentence, then word boundaries, and re-pack."""
    pieces: list[tuple[str, str]] = []  # (piece, separator that joins it to the previous piece)
    for line in text.split("\n"):
        separator = "\n"
        for sentence in [line] if count(line) <= budget else _SENTENCE.split(line):
            if count(sentence) <= budget:
                pieces.append((sentence, separator))
                separator = " "
                continue
            current: list[str] = []
            for word in sentence.split():
                while count(word) > budget:  # a run with no spaces at all: cut it
                    cut = max(1, len(word) * budget // (2 * count(word)))
                    pieces.append((word[:cut], separator))
                    separator, word = " ", word[cut:]
                if current and count(" ".join([*current, word])) > budget:
                    pieces.append((" ".join(current), separator))
                    separator, current = " ", []
                current.append(word)
            if current:
                pieces.append((" ".join(current), separator))
                separator = " "
    packed: list[str] = []
    for piece, separator in pieces:
        if packed and count(packed[-1] + separator + piece) <= budget:
            packed[-1] = packed[-1] + separator + piece
        else:
            packed.append(piece)
    return packed


def _units(blocks: list[Block], count: TokenCount, budget: int) -> list[_Unit]:
    units: list[_Unit] = []
    for block in blocks:
        tokens = count(block.text)
        if tokens <= budget:
            units.append(_Unit(block.text, tokens, block.kind, block.table))
        else:
            units.extend(
                _Unit(p, count(p), block.kind, block.table) for p in _split_long(block.text, count, budget)
            )
    return units


def _groups(blocks: list[Block]) -> list[tuple[tuple[str, ...], int | None, list[Block]]]:
    groups: list[tuple[tuple[str, ...], int | None, list[Block]]] = []
    for block in blocks:
        if groups and groups[-1][0] == block.section and groups[-1][1] == block.page:
            groups[-1][2].append(block)
        else:
            groups.append((block.section, block.page, [block]))
    return groups


def chunk_blocks(
    blocks: list[Block],
    count: TokenCount,
    max_tokens: int = 192,
    overlap_tokens: int = 32,
    min_tokens: int = 40,
) -> list[Draft]:
    """Pack ``blocks`` into chunks of at most ``max_tokens`` model tokens.

    Example:
        >>> section = ("4.2 Pads",)
        >>> blocks = [Block("4.2 Pads", 3, section, "heading"), Block("Pads wear to 2 mm.", 3, section)]
        >>> [d.text for d in chunk_blocks(blocks, lambda s: len(s.split()))]
        ['4.2 Pads\\nPads wear to 2 mm.']
    """
    groups = _groups(blocks)
    # Merge sections too small to stand alone (a bare parent heading, say) into the next on the same page.
    merged: list[tuple[tuple[str, ...], int | None, list[Block]]] = []
    carry: list[Block] = []
    for i, (section, page, members) in enumerate(groups):
        members = carry + members
        carry = []
        following = groups[i + 1] if i + 1 < len(groups) else None
        small = sum(count(b.text) for b in members) < min_tokens
        if small and following is not None and following[1] == page:
            carry = members
            continue
        merged.append((section, page, members))

    drafts: list[Draft] = []
    for section, page, members in merged:
        path = SECTION_SEPARATOR.join(section) if section else None
        for text in _pack(_units(members, count, max_tokens), count, max_tokens, overlap_tokens):
            drafts.append(Draft(len(drafts), text, page, path))
    return drafts


def _pack(units: list[_Unit], count: TokenCount, budget: int, overlap: int) -> list[str]:
    chunks: list[str] = []
    current: list[_Unit] = []
    used = 0
    headers: dict[int, _Unit] = {}
    for unit in units:
        if unit.kind == "table_header" and unit.table is not None:
            headers[unit.table] = unit
        if current and used + unit.tokens + 1 > budget:
            chunks.append("\n".join(u.text for u in current))
            current = _overlap(current, overlap, unit)
            header = headers.get(unit.table) if unit.table is not None else None
            if unit.kind == "table_row" and header is not None and header not in current:
                current = [header, *[u for u in current if u.table == unit.table]]
            used = sum(u.tokens + 1 for u in current)
            while current and used + unit.tokens + 1 > budget:
                used -= current.pop(0).tokens + 1
        current.append(unit)
        used += unit.tokens + 1
    if current:
        chunks.append("\n".join(u.text for u in current))
    return chunks


def _overlap(previous: list[_Unit], budget: int, incoming: _Unit) -> list[_Unit]:
    """Trailing units of the previous chunk that fit in the overlap budget (never a lone heading)."""
    if budget <= 0:
        return []
    kept: list[_Unit] = []
    used = 0
    for unit in reversed(previous):
        if unit.kind == "heading" or used + unit.tokens > budget:
            break
        if incoming.kind == "table_row" and unit.table != incoming.table:
            break
        kept.insert(0, unit)
        used += unit.tokens + 1
    return kept
