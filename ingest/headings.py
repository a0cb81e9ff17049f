"""Recognising section headings in text that has no markup: numbered lines such as ``4.2.1 Pad wear``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_NUMBERED = re.compile(r"^(?P<num>\d{1,3}(?:\.\d{1,3}){0,5})\.?\s+(?P<title>[A-Z][^\n]{1,120})$")
_APPENDIX = re.compile(
    r"^(?P<id>(?:APPENDIX|Appendix|ANNEX|Annex|CHAPTER|Chapter)\s+(?:[A-Z]{1,6}|\d{1,2}))\b(?:[.:]|\s+[-–—])?"
    r"(?:\s+[A-Z(][^\n]{0,100})?$"
)
_DANGLING = frozenset(  # a title ending in one of these is a sentence wrapped onto the next line
    {
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "and",
        "or",
        "but",
        "is",
        "are",
        "be",
        "by",
        "with",
    }
    | {"from", "as", "that", "which", "when", "if", "than", "into"}
)
# Table-of-contents lines: dot leaders, or a title that ends in a page number ("2.1 Scope 5", "Intro 1.3").
_TOC_TAIL = re.compile(r"(?:\.{3,}|(?:\s\.){3,}|\s[ivxlc]+|\s\d+(?:[.-]\d+)?)\s*$")


def _sentence(words: list[str]) -> bool:
    """A title that reads as a sentence: six words or more, ending in a full stop, mostly lower case.

    "3. The availability of an autopilot or automatic flight control system for pilot relief." is a list
    item; "4.2 Relationship between Probability and Severity of Failure Conditions." and "20. Operational
    and maintenance considerations." are headings.
    """
    if len(words) < 6 or not words[-1].endswith(".") or words[-1].endswith(".."):
        return False
    content = [w for w in words[1:] if w.lower() not in _DANGLING and w[:1].isalpha()]
    return sum(w[:1].isupper() for w in content) * 3 < len(content)


def _capitals(line: str) -> bool:
    """Whether a line's letters are all capitals ("1. SCOPE"): a heading, never a list item."""
    title = line.split(maxsplit=1)[-1]
    letters = [c for c in title if c.isalpha()]
    return len(letters) >= 3 and all(c.isupper() for c in letters) and not any(c.isdigit() for c in title)


@dataclass
class HeadingTracker:
    """Tracks the current heading path while reading a document top to bottom.

    Numbered headings are accepted only when their number plausibly continues the current numbering
    (next sibling, first child, or a restart at 1), which rejects table rows and list items that merely
    start with a number.
    """

    path: list[tuple[int, str]] = field(default_factory=list)  # (level, heading text)
    number: tuple[int, ...] = ()
    # A numbered list inside a subsection ("1. Stabilize…", "2. Restrain…"): the last item's number, and the
    # line that opened it, in case its first child ("1.1 …") shows that it was a heading after all.
    list_at: int | None = None
    list_opener: str = ""

    def section(self) -> tuple[str, ...]:
        """The current heading path, outermost first."""
        return tuple(text for _, text in self.path)

    def push(self, level: int, text: str) -> None:
        """Enter a heading at ``level`` (1 = top)."""
        while self.path and self.path[-1][0] >= level:
            self.path.pop()
        self.path.append((level, text))

    def numbered(self, line: str, next_line: str | None = None) -> bool:
        """If ``line`` is a plausible numbered or appendix heading, enter it and return True.

        ``next_line`` (when known) rejects wrapped sentences: a heading is not continued in lower case.
        """
        line = " ".join(line.split())
        if next_line and next_line.lstrip()[:1].islower():
            return False
        if not line or len(line) > 130:
            return False
        appendix = _APPENDIX.match(line)
        if appendix and len(line.split()) <= 14 and not _TOC_TAIL.search(line[len(appendix.group("id")) :]):
            self.number = ()
            self.push(1, line)
            return True
        match = _NUMBERED.match(line)
        if match is None:
            return False
        title = match.group("title")
        if _TOC_TAIL.search(title) or match.group("num").startswith("0"):
            return False
        if title.split()[-1].lower() in _DANGLING:
            return False  # "2. Precise pilot technique is" — a numbered sentence wrapped onto the next line
        words = title.split()
        if len(words) > 14 or title.endswith((",", ";", "=")) or sum(c.isalpha() for c in title) < 3:
            return False
        if sum(any(c.isdigit() for c in w) for w in words) >= 2:
            return False  # a table row such as "3 Front caliper 120 18 2.5"
        number = tuple(int(p) for p in match.group("num").split("."))
        if len(number) == 1 and _sentence(words):
            return False  # "3. The availability of an autopilot for pilot relief." — a list item
        if self._list_item(number, line):
            return False
        if not self._continues(number):
            return False
        self.number = number
        self.push(len(number), line)
        return True

    def _list_item(self, new: tuple[int, ...], line: str) -> bool:
        """Whether ``new`` numbers an item of a list inside a subsection rather than a heading.

        A list restarting at 1 inside a subsection ("5.3.2.4" then "1.", "2.", "3.") would otherwise be read
        as new chapters, and every real heading after it ("5.3.2.5") would then fail to continue them.
        """
        if new == (1,) and len(self.number) >= 2 and not _capitals(line):
            self.list_at, self.list_opener = 1, line
            return True
        if self.list_at is not None:
            if len(new) == 1 and 1 <= new[0] - self.list_at <= 2:
                self.list_at = new[0]
                return True
            if self.list_at == 1 and len(new) == 2 and new[0] == 1 and new[1] <= 3:
                # "1 Introduction" then "1.1 Scope": the list's opener was a heading
                self.number = (1,)
                self.push(1, self.list_opener)
            self.list_at = None
        return False

    def _continues(self, new: tuple[int, ...]) -> bool:
        current = self.number
        if new in ((1,), (0,)) or (not current and len(new) <= 2 and new[0] <= 20):
            return True
        for depth in range(len(current) + 1):
            if new[:depth] != current[:depth] or len(new) != depth + 1:
                continue
            step = new[depth] - (current[depth] if depth < len(current) else 0)
            if 1 <= step <= 3:
                return True
        return False
