"""What kind of fact a question asks for, and whether a sentence states one.

The extractive generator ranks source sentences by similarity to the question, which favours sentences that
*talk about* the subject (scope statements, symptom lists) over the one that *gives* what was asked. A
question's wording says what it wants:

- ``identifier``: a part number, DTC, routine, requirement id, software version ("which DTC ...", "what is
  the part number ..."): a sentence fits when it holds an identifier the question does not already name;
- ``value``: a quantity ("what torque ...", "how far ...", "what maximum temperature ..."): a sentence fits
  when it holds a number with a unit;
- ``definition``: "what does MSD stand for": a sentence fits when it spells the acronym out;
- ``other``: no preference.

Example:
    >>> expected("Which DTC does the brake module store when the wear counter was not reset?")
    'identifier'
    >>> fits("identifier", "The module stores DTC C1A27-54 in that case.", "Which DTC ...?")
    1.0
"""

from __future__ import annotations

import re
from typing import Literal

from assistant.entities import named

__all__ = ["AnswerType", "expected", "fits"]

AnswerType = Literal["identifier", "value", "definition", "other"]

_DEFINITION = re.compile(r"\b(stand for|stands for|abbreviation|acronym|what is meant by|meaning of)\b", re.I)
_IDENTIFIER = re.compile(
    r"\b(part number|part no|p/n|dtc|fault code|trouble code|error code|which code|routine|requirement id|"
    r"requirement number|which requirement|identifier|software version|which version|firmware|"
    r"bulletin number|campaign|can id|did\b|which (?:id|ids))",
    re.I,
)
_VALUE = re.compile(
    r"\b(how (?:much|many|far|long|high|low|hot|cold|fast|often|large|big|heavy)|torque|temperature|"
    r"voltage|current|pressure|interval|distance|threshold|limit|gain|resistance|capacity|speed|"
    r"duration|frequency|tolerance|maximum|minimum|max\.?|min\.?|at what|what value|how many)\b",
    re.I,
)
_UNIT = (
    r"(?:N·m|N\.m|Nm|°C|°|K|V|mV|kV|A|mA|mm|cm|m|km|km/h|s|ms|min|h|%|bar|mbar|kPa|MPa|Pa|kW|W|kWh|Wh|"
    r"Ω|mΩ|MΩ|Hz|kHz|g|kg|t|l|ml|rpm|V/\(A s\)|A/s|dB)"
)
_QUANTITY = re.compile(
    r"\d+(?:[.,]\d+)?\s*(?:(?:±|\+/-|-|to|…)\s*\d+(?:[.,]\d+)?\s*)?" + _UNIT + r"(?![A-Za-z])"
)
_HEX_OR_CODE = re.compile(r"\b(?:0x[0-9A-Fa-f]{2,}|[PCBU][0-9A-F]{4}(?:-[0-9A-F]{2})?)\b")
_ACRONYM = re.compile(r"\b([A-Z]{2,6})\b")


def expected(question: str) -> AnswerType:
    """The kind of fact ``question`` asks for."""
    if _DEFINITION.search(question):
        return "definition"
    if _IDENTIFIER.search(question):
        return "identifier"
    if _VALUE.search(question):
        return "value"
    return "other"


def _expands(acronym: str, sentence: str) -> bool:
    """Whether ``sentence`` spells ``acronym`` out: consecutive words whose initials are its letters."""
    words = re.findall(r"[A-Za-z][A-Za-z-]*", sentence)
    initials = "".join(w[0].upper() for w in words)
    return acronym.upper() in initials


def fits(kind: AnswerType, sentence: str, question: str) -> float:
    """1.0 when ``sentence`` states the kind of fact ``question`` asks for, else 0.0."""
    if kind == "identifier":
        asked = {e.casefold() for e in named(question)}
        new = [t for t in named(sentence) if t.casefold() not in asked and not _QUANTITY.fullmatch(t)]
        return 1.0 if new or _HEX_OR_CODE.search(sentence) else 0.0
    if kind == "value":
        return 1.0 if _QUANTITY.search(sentence) else 0.0
    if kind == "definition":
        acronyms = [a for a in _ACRONYM.findall(question) if a not in {"DTC", "ID"}]
        return 1.0 if any(_expands(a, sentence) for a in acronyms) else 0.0
    return 0.0
