"""The things a question names (vehicles, programs, part numbers, requirement ids, DTCs, campaigns), and
which retrieved passages are about them.

A torque from the KV-4's table is not the TC-2's torque, however similar the sentences. So when a question
names an identifier, the answer may only use passages that mention it (in their text, section path or
document title); when no readable passage does, eka says so instead of quoting another entity's value.

An identifier here is a token with a capital letter and a digit (``KV-4``, ``TC-2``, ``C1A27-54``,
``SB-TC2-24-031``, ``NMG-4E0-614-517-B``, ``TC-09``), except a number with a unit (``12V``, ``3mm``) or an
ordinal (``2nd``); lower-case compounds such as ``1-g`` or ``1.3-capable`` are words. Matching ignores case
and the separators inside the identifier (``KV-4`` = ``KV 4`` = ``kv4``) but not its boundaries (``TC-2`` is
not ``TC-24`` nor ``TC-2A``).

Example:
    >>> named("What torque is specified for the wheel nuts of the Tamsin TC-2?")
    ['TC-2']
    >>> mentions("TC-2", "Service bulletin SB-TC2-24-031 for the Tamsin TC2")
    True
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache

from assistant.types import Hit

__all__ = ["Scope", "brands", "key", "mentions", "named", "named_all", "passage_about", "scope"]

_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*[A-Za-z0-9]|[A-Za-z0-9]")
_NUMBER_WITH_UNIT = re.compile(r"^\d+(?:[.,]\d+)?(?:[a-zA-Z°µ]{1,4})$")
_ORDINAL = re.compile(r"^\d+(?:st|nd|rd|th)$", re.IGNORECASE)
_PARTS = re.compile(r"[A-Za-z]+|\d+")


def named_all(text: str) -> list[str]:
    """Every identifier in ``text``, repeats included, as canonical keys (``KV-4`` and ``kv4`` alike)."""
    out = []
    for token in _TOKEN.findall(text):
        token = token.strip("./-")
        has_capital = any(c.isupper() for c in token)  # "1-g", "1.3-capable", "x86-like" are words
        has_digit = any(c.isdigit() for c in token)
        if has_capital and has_digit and not _NUMBER_WITH_UNIT.match(token) and not _ORDINAL.match(token):
            out.append(token)
    return out


def named(question: str) -> list[str]:
    """The identifiers ``question`` names, in order, without repeats."""
    found: list[str] = []
    for token in named_all(question):
        if all(key(token) != key(seen) for seen in found):
            found.append(token)
    return found


def brands(question: str) -> list[str]:
    """The capitalised words that name a brand or maker right before an identifier: "the Kestrel KV-4".

    Example:
        >>> brands("What is the brake fluid interval for the Kestrel KV-4 and the TC-2?")
        ['Kestrel']
    """
    out: list[str] = []
    for entity in named(question):
        for match in re.finditer(rf"\b([A-Z][a-z]+)\s+{re.escape(entity)}\b", question):
            if match.start() > 0 and match.group(1) not in out:  # not the question's first word
                out.append(match.group(1))
    return out


def key(identifier: str) -> str:
    """The canonical form of an identifier: its letter and digit runs, lower case (``KV-4`` -> ``kv4``)."""
    return "".join(_PARTS.findall(identifier)).casefold()


@lru_cache(maxsize=1024)  # identifiers come from questions (caller input): a bounded cache
def _pattern(identifier: str) -> re.Pattern[str]:
    parts = _PARTS.findall(identifier)
    body = r"[\s._/-]?".join(re.escape(p) for p in parts)
    before = r"(?<![A-Za-z0-9])" if parts[0][0].isalnum() else ""
    after = r"(?![A-Za-z0-9])"
    return re.compile(before + body + after, re.IGNORECASE)


def mentions(identifier: str, text: str) -> bool:
    """Whether ``text`` mentions ``identifier`` (case and inner separators ignored, boundaries kept)."""
    return bool(_pattern(identifier).search(text))


def passage_about(hit: Hit) -> str:
    """What a hit is about at the passage level: its document's title, its section path and its own text."""
    return "\n".join(filter(None, (hit.document.title, hit.chunk.section, hit.chunk.text)))


@dataclass(frozen=True, slots=True)
class Scope:
    """Which hits may answer a question that names ``entities``.

    ``hits`` are those that mention at least one of them (all hits when the question names none);
    ``missing`` are the entities no hit mentions; ``others`` are identifiers of the same kind that the
    dropped hits mention instead (``KV-4`` when the question asked about the ``TC-2``).
    """

    entities: tuple[str, ...]
    hits: tuple[Hit, ...]
    missing: tuple[str, ...]
    others: tuple[str, ...]

    @property
    def narrowed(self) -> bool:
        """Whether any hit was set aside for not being about a named entity."""
        return bool(self.entities)


def _shape(identifier: str) -> str:
    """``KV-4`` and ``TC-2`` share the shape ``A-9``: letters, then digits, same separators."""
    return re.sub(r"\d+", "9", re.sub(r"[A-Za-z]+", "A", identifier))


def scope(question: str, hits: tuple[Hit, ...], about: Callable[[Hit], str] = passage_about) -> Scope:
    """Keep the hits that mention an identifier the question names.

    Args:
        question: the (standalone) question.
        hits: the retrieved hits, already limited to what the caller may read.
        about: the text a hit is judged by (default: the passage with its title and section; the answer
            service passes the whole document, since a page of the KV-4's manual need not repeat "KV-4").

    Returns:
        The kept hits (renumbered from 1), the named entities no hit mentions, and same-shape identifiers
        that the other hits mention instead.
    """
    entities = tuple(named(question))
    if not entities:
        return Scope((), hits, (), ())
    texts = [about(h) for h in hits]  # once per hit: the answer service's reads whole documents
    kept_texts = [(h, t) for h, t in zip(hits, texts, strict=True) if any(mentions(e, t) for e in entities)]
    kept = [h for h, _ in kept_texts]
    missing = tuple(e for e in entities if not any(mentions(e, t) for _, t in kept_texts))
    # What the set-aside hits are about instead: same-shape identifiers in their document titles (a title
    # names the vehicle or program; the text also holds table references such as W-04).
    shapes = {_shape(e) for e in entities}
    keys = {key(e) for e in entities}
    others: list[str] = []
    for hit in hits:
        for token in named(hit.document.title or ""):
            if _shape(token) in shapes and key(token) not in keys and token not in others:
                others.append(token)
    renumbered = tuple(replace(h, rank=i) for i, h in enumerate(kept, start=1))
    return Scope(entities, renumbered, missing, tuple(others[:3]))
