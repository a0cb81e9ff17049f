"""Citation checking: every ``[n]`` marker must point to a source, and every cited sentence must be supported.

A sentence is *supported* by a source when the source contains at least ``threshold`` of the sentence's
content words (stemmed, stopwords and markers removed; numbers and identifiers must match exactly). The share
and the threshold were measured on the dev questions (docs/answering.md). Sentences that cite nothing, or
whose citations do not support them, are flagged in the response rather than silently passed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.tokenize import tokenize
from assistant.types import Citation, Hit

MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])(?:\s*(?:\[\d{1,3}(?:\s*,\s*\d{1,3})*\]))*\s+(?=[A-Z0-9\"'(])")
_SOURCE_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
HEADING = re.compile(r"^(#+\s|\d+(\.\d+)*\.?\s+[^.|]{0,80}$)")
ITEM = re.compile(r"^([-•*]\s|\(?[a-z0-9]{1,3}[.)]\s)")


def unwrap_lines(text: str) -> str:
    r"""Rejoin lines wrapped by a page layout; table rows, list items and headings keep their own lines.

    Example:
        >>> unwrap_lines("The wear sensor warns at\n3.0 mm remaining.\n| a | b |")
        'The wear sensor warns at 3.0 mm remaining.\n| a | b |'
    """
    out: list[str] = []
    open_line = False  # whether the last line was cut by the layout and continues on the next
    for line in (raw.strip() for raw in text.splitlines()):
        if not line:
            continue
        starts_item = "|" in line or ITEM.match(line) is not None or HEADING.match(line) is not None
        if out and open_line and not starts_item:
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
        last = out[-1]
        closed = last[-1] in ".!?:" or (last[-1] == ";" and ITEM.match(last) is not None)  # "- item;"
        open_line = "|" not in last and not closed and len(last.split()) > 4
        open_line = open_line and not HEADING.match(last)
    return "\n".join(out)


@dataclass(frozen=True, slots=True)
class SentenceCheck:
    """How one answer sentence stands against the sources it cites."""

    text: str
    markers: tuple[int, ...]
    support: float  # best share of content words found in one cited source (1.0 when nothing to check)
    supported: bool
    attached: bool = False  # the checker added the marker: the sentence cited none, one source supports it


@dataclass(frozen=True, slots=True)
class CheckedAnswer:
    """An answer after citation checking."""

    text: str  # with markers that point to no source removed
    citations: tuple[Citation, ...]
    sentences: tuple[SentenceCheck, ...]
    removed_markers: tuple[int, ...]

    @property
    def unsupported(self) -> tuple[str, ...]:
        """Sentences with a citation that does not support them, or with no citation at all."""
        return tuple(s.text for s in self.sentences if not s.supported)

    @property
    def support_rate(self) -> float | None:
        """Share of cited sentences whose citations support them (None when nothing was cited)."""
        cited = [s for s in self.sentences if s.markers]
        return sum(s.supported for s in cited) / len(cited) if cited else None


def split_sentences(text: str) -> list[str]:
    """Answer text split after sentence ends, keeping each sentence's trailing markers with it."""
    out: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        out.append(text[start : match.start() + len(match.group().rstrip())].strip())
        start = match.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return [s for s in out if s]


def markers_in(text: str) -> tuple[int, ...]:
    """The source numbers cited in ``text``, in order of first appearance."""
    seen: dict[int, None] = {}
    for match in MARKER.finditer(text):
        for number in match.group(1).split(","):
            seen.setdefault(int(number), None)
    return tuple(seen)


def strip_invalid_markers(
    text: str, n_sources: int, renumber: dict[int, int] | None = None
) -> tuple[str, tuple[int, ...]]:
    """Remove markers (or the numbers inside them) that point to no source; return the removed numbers.

    With ``renumber``, the kept source numbers are also renumbered 1..n in order of first appearance; the
    mapping (source number -> new number) is filled in as markers are met, so it carries across calls.

    Example:
        >>> order = {}
        >>> strip_invalid_markers("A [4]. B [2][4]. C [9].", 6, order)
        ('A [1]. B [2][1]. C.', (9,))
        >>> order
        {4: 1, 2: 2}
    """
    removed: list[int] = []

    def fix(match: re.Match[str]) -> str:
        numbers = [int(n) for n in match.group(1).split(",")]
        kept = [n for n in numbers if 1 <= n <= n_sources]
        removed.extend(n for n in numbers if not 1 <= n <= n_sources)
        if renumber is not None:
            kept = [renumber.setdefault(n, len(renumber) + 1) for n in kept]
        return f"[{', '.join(map(str, kept))}]" if kept else ""

    cleaned = MARKER.sub(fix, text)
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned)
    return re.sub(r"[ \t]{2,}", " ", cleaned), tuple(removed)


def content_words(text: str) -> set[str]:
    """The words a support check compares: stemmed, without stopwords and citation markers."""
    return set(tokenize(MARKER.sub(" ", text)))


def support(sentence: str, source_text: str) -> float:
    """Share of the sentence's content words that appear in the source (1.0 for a sentence with none)."""
    words = content_words(sentence)
    if not words:
        return 1.0
    return len(words & content_words(source_text)) / len(words)


def best_quote(sentence: str, source_text: str, limit: int = 300) -> str:
    """The source sentence that shares most content words with ``sentence`` (for highlighting)."""
    words = content_words(sentence)
    pieces = [p.strip() for p in _SOURCE_SENTENCE.split(unwrap_lines(source_text)) if p and p.strip()]
    if not pieces:
        return source_text[:limit]
    best = max(pieces, key=lambda p: (len(words & content_words(p)), -len(p)))
    return best if len(best) <= limit else best[: limit - 1].rstrip() + "…"


_META = re.compile(r"^(i don't know|i do not know|the documents available to you)", re.IGNORECASE)


def _with_marker(sentence: str, n: int) -> str:
    body = sentence.rstrip()
    end = body[-1] if body[-1:] in ".!?" else ""
    return f"{body[: len(body) - len(end)].rstrip()} [{n}]{end}"


def check(text: str, sources: Sequence[Hit], threshold: float, attach: bool = False) -> CheckedAnswer:
    """Check ``text``'s citations against ``sources`` (marker n is ``sources[n - 1]``).

    With ``attach``, a sentence that cites nothing gets the marker of the source that supports it best, if
    that source passes the threshold (small LLMs often forget markers); otherwise it is flagged.

    Example:
        >>> checked = check("Pads warn at 3.0 mm [1]. Rotors are steel [7].", hits, 0.5)  # doctest: +SKIP
        >>> checked.removed_markers, checked.unsupported  # doctest: +SKIP
        ((7,), ('Rotors are steel.',))
    """
    cleaned, removed = strip_invalid_markers(text, len(sources))
    checks: list[SentenceCheck] = []
    quotes: dict[int, str] = {}
    for sentence in split_sentences(cleaned):
        cited = markers_in(sentence)
        if not cited:
            needs_source = bool(content_words(sentence)) and not _META.match(sentence)
            if needs_source and attach and sources:
                shares = [support(sentence, hit.chunk.text) for hit in sources]
                best_n = max(range(len(shares)), key=lambda i: shares[i]) + 1
                if shares[best_n - 1] >= threshold:
                    marked = _with_marker(sentence, best_n)
                    cleaned = cleaned.replace(sentence, marked, 1)
                    checks.append(SentenceCheck(marked, (best_n,), shares[best_n - 1], True, True))
                    quotes.setdefault(best_n, best_quote(sentence, sources[best_n - 1].chunk.text))
                    continue
            checks.append(SentenceCheck(sentence, (), 0.0 if needs_source else 1.0, not needs_source))
            continue
        scores = {n: support(sentence, sources[n - 1].chunk.text) for n in cited}
        best = max(scores.values())
        checks.append(SentenceCheck(sentence, cited, best, best >= threshold))
        for n in cited:
            quotes.setdefault(n, best_quote(sentence, sources[n - 1].chunk.text))
    citations = []
    for n in sorted(quotes):
        hit = sources[n - 1]
        citations.append(
            Citation(
                n,
                hit.chunk.chunk_id,
                hit.document.doc_id,
                hit.document.source,
                hit.chunk.page,
                hit.chunk.section,
                quotes[n],
            )
        )
    return CheckedAnswer(cleaned.strip(), tuple(citations), tuple(checks), removed)
