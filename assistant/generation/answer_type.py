"""What kind of fact a question asks for, and whether a sentence states one.

The extractive generator ranks source sentences by similarity to the question, which favours sentences that
*talk about* the subject (scope statements, symptom lists) over the one that *gives* what was asked. A
question's wording says what it wants:

- ``identifier``: a part number, DTC, routine, requirement id, software version ("which DTC ...", "what is
  the part number ..."): a sentence fits when it holds an identifier the question does not already name;
- ``value``: a quantity ("what torque ...", "how far ...", "what maximum temperature ..."): a sentence fits
  when it holds a number with a unit;
- ``definition``: "what does MSD stand for": a sentence fits when it spells the acronym out;
- ``procedure``: "how must a technician confirm ...", "how do the tools avoid ...": a sentence fits when it
  is a step (an imperative, "first", "then", "finally"); the answer is a run of the lead's passage;
- ``reason``: "why ...", "what causes ...": a sentence fits when it gives a cause or a purpose ("because",
  "due to", "to compensate", "becomes too viscous", "can differ by");
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

from assistant.citations import content_words
from assistant.entities import named

__all__ = ["AnswerType", "expanded", "expected", "explains", "fits", "question_parts"]

AnswerType = Literal["identifier", "value", "definition", "reason", "procedure", "other"]

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
    r"Ω|mΩ|MΩ|Hz|kHz|g|kg|t|l|ml|rpm|V/\(A s\)|A/s|dB|"
    r"(?:years?|months?|weeks?|days?|hours?|minutes?|seconds?|knots?|kts?|feet|ft|degrees?|percent|"
    r"bits?|bytes?|KiB|MiB|GiB|kB|MB|GB)(?: (?:per|/) (?:second|minute|hour))?)"
)
_NUMBER_WORD = (
    r"(?i:one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty|thirty|sixty|hundred)"
)
_QUANTITY = re.compile(
    rf"(?:\d+(?:[.,]\d+)?|\b{_NUMBER_WORD})\s*(?:(?:±|\+/-|-|to|…)\s*\d+(?:[.,]\d+)?\s*)?"
    + _UNIT
    + r"(?![A-Za-z])"
)
# A table row read as "... Default: 610 · Range: 300 - 1200 · Unit: V/(A s)" states a value in its own unit.
_UNIT_FIELD = re.compile(r"\d.*\bUnits?: \S|\bUnits?: \S.*\d")
_HEX_OR_CODE = re.compile(r"\b(?:0x[0-9A-Fa-f]{2,}|[PCBU][0-9A-F]{4}(?:-[0-9A-F]{2})?)\b")
_REASON = re.compile(r"^\s*(why|what (?:causes|caused|is the (?:reason|cause|purpose)))\b|\bwhy\b", re.I)
_CAUSAL = re.compile(
    r"\b(because|due to|caused by|causes?|the reason|root cause|to compensate|compensates?|so that|"
    r"in order to|otherwise|as a result|results? in|leads? to|prevents?|to avoid|to prevent|too (?:\w+)|"
    r"(?:can|could|may|would) (?:differ|vary|exceed|cause|lead|damage|fail|crack|overheat)|"
    r"(?:to|will|would) (?:ease|simplify|allow|enable|reduce|avoid|improve|ensure|guarantee))\b",
    re.I,
)
_CAUSE_SECTION = re.compile(r"\b(causes?|root cause|reasons?|rationale|background|why)\b", re.I)
_PROCEDURE = re.compile(r"^\s*how (?:must|do|does|did|should|can|could|would|is|are|to)\b", re.I)
_STEP = re.compile(
    r"^(?:\(?[a-z0-9]{1,2}[.)]\s+)?(?:use|measure|check|connect|select|set|remove|install|tighten|disconnect|"
    r"record|read|test|apply|wait|turn|switch|fit|park|ensure|verify|confirm|perform|run|start|repeat|replace|"
    r"enter|press|clean|add|increment|compare|send|reject|abort)\b|\b(?:first|then|finally|afterwards)\b",
    re.I,
)
_ACRONYM = re.compile(r"\b([A-Z]{2,6})\b")


_WH = r"(?:what|which|how|when|why|where|who|does|do|is|are|can|must|should)\b"
_PART_BREAK = re.compile(rf"(?:,\s*|\s+)and\s+(?={_WH})|\?\s+(?=\w)|:\s+(?={_WH})", re.I)


def question_parts(question: str) -> list[str]:
    """The parts of a question that asks for several things, each to be answered from its own source.

    A part starts at "and what/how/which ...", after a question mark, or after a colon that introduces the
    question; what comes before a colon ("A TC-2 stores C1A45-96:") is context and joins the first part.

    Example:
        >>> question_parts("Which ticket fixed it, and what maximum temperature did the re-test reach?")
        ['Which ticket fixed it', 'what maximum temperature did the re-test reach?']
        >>> question_parts("A TC-2 stores C1A45-96: what does the code mean and how does the fix change it?")
        ['A TC-2 stores C1A45-96: what does the code mean', 'how does the fix change it?']
    """
    pieces = [p.strip(" ,") for p in _PART_BREAK.split(question) if p and p.strip(" ,")]
    colon = re.match(rf"^(.*?):\s+(?={_WH})", question, re.I)
    if colon and len(pieces) > 1 and pieces[0] == colon.group(1).strip(" ,"):
        pieces = [f"{pieces[0]}: {pieces[1]}", *pieces[2:]]
    return [p for p in pieces if len(p.split()) >= 3] or [question]


def expected(question: str) -> AnswerType:
    """The kind of fact ``question`` asks for."""
    if _DEFINITION.search(question):
        return "definition"
    if _REASON.search(question):
        return "reason"
    if _IDENTIFIER.search(question):
        return "identifier"
    if _PROCEDURE.search(question):
        return "procedure"
    if _VALUE.search(question):
        return "value"
    return "other"


def _expands(acronym: str, sentence: str) -> bool:
    """Whether ``sentence`` spells ``acronym`` out: consecutive words whose initials are its letters."""
    words = re.findall(r"[A-Za-z][A-Za-z-]*", sentence)
    initials = "".join(w[0].upper() for w in words)
    return acronym.upper() in initials


def expanded(sentence: str, question: str) -> set[str]:
    """The question's words that an acronym of ``sentence`` abbreviates: "IBM" and "... integrated brake
    module ..." give {integrated, brake, module} (as content words)."""
    words = re.findall(r"[A-Za-z][A-Za-z-]*", question)
    initials = "".join(w[0].upper() for w in words)
    out: set[str] = set()
    for acronym in set(_ACRONYM.findall(sentence)):
        at = initials.find(acronym)
        while at != -1:
            out |= content_words(" ".join(words[at : at + len(acronym)]))
            at = initials.find(acronym, at + 1)
    return out


def fits(kind: AnswerType, sentence: str, question: str) -> float:
    """1.0 when ``sentence`` states the kind of fact ``question`` asks for, else 0.0."""
    if kind == "identifier":
        asked = {e.casefold() for e in named(question)}
        new = [t for t in named(sentence) if t.casefold() not in asked and not _QUANTITY.fullmatch(t)]
        return 1.0 if new or _HEX_OR_CODE.search(sentence) else 0.0
    if kind == "value":
        return 1.0 if _QUANTITY.search(sentence) or _UNIT_FIELD.search(sentence) else 0.0
    if kind == "definition":
        acronyms = [a for a in _ACRONYM.findall(question) if a not in {"DTC", "ID"}]
        return 1.0 if any(_expands(a, sentence) for a in acronyms) else 0.0
    if kind == "reason":
        return 1.0 if _CAUSAL.search(sentence) else 0.0
    if kind == "procedure":
        return 1.0 if _STEP.search(sentence) else 0.0
    return 0.0


def explains(section: str | None) -> bool:
    """Whether a section heading path says its text gives causes or reasons ("3. Cause", "Rationale")."""
    return bool(section and _CAUSE_SECTION.search(section.rsplit(">", 1)[-1]))
