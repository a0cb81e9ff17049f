"""Checks of an LLM's answer after it is written, before anyone relies on it.

An extractive answer quotes its sources, so its numbers and identifiers are theirs. An LLM writes its own
sentences and can put a number in them that no source gives, cite a source about the KV-4 for the TC-2, or
say "the sources do not say" in words the refusal check does not know. :func:`review` runs after the
citation check on every answer of a non-verbatim generator (``local``, ``openai``):

- an answer that only says the sources do not cover the question becomes a refusal;
- a sentence that names a number, code or identifier which neither its cited sources nor the question
  contain is dropped (``"M16"``, ``"230 ± 15"`` and ``"0x0502"`` must be in the source it cites);
- when the question names an entity (``TC-2``), a sentence that names another entity of the same kind, or
  the subject of a source's title or metadata (``KV-4``), and not the asked one, is dropped;
- if nothing supported is left, the answer is a refusal; if only other entities were left, the refusal
  says so: "The documents available to you give this for KV-4, not for TC-2."

Example:
    >>> checked = check("The wheel nuts take 140 N·m [1].", hits, 0.5, attach=True)  # doctest: +SKIP
    >>> review("Wheel nut torque of the TC-2?", False, checked, hits, 0.5, "local").refused  # doctest: +SKIP
    True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.citations import MARKER, CheckedAnswer, check, content_words
from assistant.entities import key, mentions, named, named_all
from assistant.types import Hit

__all__ = ["NOT_COVERED", "VERBATIM", "Review", "review", "source_text", "unsupported_values"]

VERBATIM = frozenset({"extractive"})  # generators that quote their sources: nothing to check here
# The refusal text of every generator (the answer service imports it from here: postcheck cannot import it).
NOT_COVERED = "The documents available to you do not cover this. The closest sources are listed below."
_NON_ANSWER = re.compile(
    r"^\W*(?:i don't know|i do not know)\b"
    r"|\b(?:sources?|documents?|context|provided (?:text|information))\b.{0,60}?"
    r"\b(?:do(?:es)? not|don't|doesn't|did not|never)\s+(?:\w+\s+){0,2}?"
    r"(?:contain|provide|mention|specify|include|give|cover|state|list|say|address|discuss)"
    r"|\b(?:no|not any) (?:information|mention|details?|data)\b.{0,40}?\b(?:sources?|documents?|context)\b"
    r"|\bnot (?:mentioned|specified|provided|covered|given|stated|listed|found) in the "
    r"(?:provided )?(?:sources?|documents?|context)",
    re.IGNORECASE,
)
_HEX = re.compile(r"\b0x[0-9a-f]+\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*[A-Za-z0-9]")
_LIST_NUMBER = re.compile(r"^\s*\d{1,2}[.)]\s", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Review:
    """The answer after the post-checks: whether it is a refusal, its checked text, and what was changed."""

    refused: bool
    checked: CheckedAnswer
    notes: tuple[str, ...] = ()
    original: str | None = None  # the model's checked answer, when the post-checks changed it

    def record(self) -> dict[str, object]:
        """What provenance keeps: what was changed and why, and the model's own answer if it was changed."""
        return {"notes": list(self.notes), "model_answer": self.original}


def _numbers(text: str) -> set[float]:
    return {float(n.replace(",", "")) for n in _NUMBER.findall(text)}


def source_text(hit: Hit) -> str:
    """What a source shown to the model vouches for: title, page, section path, passage, metadata values."""
    metadata = " ".join(str(v) for v in hit.document.metadata.values() if isinstance(v, str | int | float))
    page = f"page {hit.chunk.page}" if hit.chunk.page is not None else ""
    return "\n".join(filter(None, (hit.document.title, page, hit.chunk.section, hit.chunk.text, metadata)))


def unsupported_values(sentence: str, evidence: str) -> list[str]:
    """The numbers, hex codes and identifiers of ``sentence`` that ``evidence`` does not contain.

    Numbers compare by value (``3.0`` is ``3``, ``1,500`` is ``1500``); identifiers ignore case and inner
    separators (``KV-4`` is ``kv4``). Citation markers and list numbers are not values.

    Example:
        >>> unsupported_values("M16 bolts take 250 ± 15 N·m [1].", "M16 x 1.5 | 230 ± 15 N·m | TL-A")
        ['250']
    """
    text = _LIST_NUMBER.sub(" ", MARKER.sub(" ", sentence))
    missing: list[str] = []
    for code in _HEX.findall(text):
        if code.casefold() not in evidence.casefold():
            missing.append(code)
    text = _HEX.sub(" ", text)
    for identifier in named_all(text):
        if not mentions(identifier, evidence):
            missing.append(identifier)
    text = _WORD.sub(lambda m: " " if named_all(m.group()) else m.group(), text)  # their digits are done
    known = _numbers(_HEX.sub(" ", evidence))
    missing.extend(n for n in _NUMBER.findall(text) if float(n.replace(",", "")) not in known)
    return missing


def _subjects(sources: Sequence[Hit]) -> set[str]:
    """Identifiers the sources' documents are about: named in a title or a metadata value."""
    out: set[str] = set()
    for hit in sources:
        values = [str(v) for v in hit.document.metadata.values() if isinstance(v, str)]
        for text in (hit.document.title or "", *values):
            out.update(key(token) for token in named(text))
    return out


def _shape(identifier: str) -> str:
    return re.sub(r"\d+", "9", re.sub(r"[A-Za-z]+", "A", identifier))


def _other_entities(sentence: str, entities: Sequence[str], subjects: set[str], question: str) -> list[str]:
    """Entities ``sentence`` names in place of the asked ones (empty when it names an asked one)."""
    if not entities or any(mentions(e, sentence) for e in entities):
        return []
    shapes = {_shape(e) for e in entities}
    return [
        token
        for token in named(MARKER.sub(" ", sentence))
        if not mentions(token, question) and (_shape(token) in shapes or key(token) in subjects)
    ]


def _is_non_answer(checked: CheckedAnswer) -> bool:
    sentences = [s.text for s in checked.sentences if MARKER.sub("", s.text).strip()]
    return bool(sentences) and all(_NON_ANSWER.search(s) for s in sentences)


def review(
    question: str,
    refused: bool,
    checked: CheckedAnswer,
    sources: Sequence[Hit],
    threshold: float,
    generator: str,
) -> Review:
    """Check an LLM's answer to ``question`` against ``sources`` (marker n is ``sources[n - 1]``).

    Args:
        question: the standalone question the sources were retrieved for.
        refused: whether the answer is already a refusal (then nothing is checked).
        checked: the answer after :func:`assistant.citations.check`.
        sources: the numbered sources the generator saw.
        threshold: the citation support threshold, to check the shortened answer again.
        generator: the generator's name; verbatim generators (``extractive``) are not checked.

    Returns:
        The answer unchanged, shortened to its supported sentences, or a refusal, with notes saying why.
    """
    if refused or generator in VERBATIM or not checked.sentences:
        return Review(refused, checked)
    if _is_non_answer(checked):
        return _refusal(NOT_COVERED, checked.text, "the model said the sources do not cover the question")
    entities = named(question)
    subjects = _subjects(sources)
    kept: list[str] = []
    notes: list[str] = []
    others: list[str] = []
    for sentence in checked.sentences:
        text = sentence.text
        missing = _missing(question, text, sentence.markers or tuple(range(1, len(sources) + 1)), sources)
        if missing and sentence.markers:
            # A small model often cites the source next to the right one: the value is real if one holds it.
            holder = next(
                (n for n in range(1, len(sources) + 1) if not _missing(question, text, (n,), sources)), 0
            )
            if holder:
                text = _recited(text, holder)
                notes.append(f"cited [{holder}] for {', '.join(missing)} instead of {list(sentence.markers)}")
                missing = []
        if missing:
            notes.append(f"dropped a sentence naming {', '.join(missing)}, which its sources do not contain")
            continue
        wrong = _other_entities(text, entities, subjects, question)
        if wrong:
            others.extend(w for w in wrong if w not in others)
            notes.append(f"dropped a sentence about {', '.join(wrong)} instead of {' / '.join(entities)}")
            continue
        kept.append(text)
    if not notes:
        if all(_restates(question, s.text) for s in checked.sentences):
            return _refusal(NOT_COVERED, checked.text, "the answer only restates the question")
        return Review(False, checked)
    shortened = check(" ".join(kept), sources, threshold, attach=True)
    original = checked.text
    if not any(s.supported and s.markers and not _NON_ANSWER.search(s.text) for s in shortened.sentences):
        if others:
            text = (
                f"The documents available to you give this for {', '.join(others)}, not for "
                f"{' / '.join(entities)}. The closest sources are listed below."
            )
            return _refusal(text, original, *notes)
        return _refusal(NOT_COVERED, original, *notes, "no supported sentence was left")
    return Review(False, shortened, tuple(notes), original)


def _restates(question: str, sentence: str) -> bool:
    """Whether ``sentence`` adds no word and no value to ``question`` ("The requirement is [2][3].")."""
    body = MARKER.sub(" ", sentence)
    return not (content_words(body) - content_words(question)) and not unsupported_values(body, question)


def _missing(question: str, sentence: str, cited: Sequence[int], sources: Sequence[Hit]) -> list[str]:
    evidence = "\n".join([question, *(source_text(sources[n - 1]) for n in cited if 1 <= n <= len(sources))])
    return unsupported_values(sentence, evidence)


def _recited(sentence: str, n: int) -> str:
    body = re.sub(r"\s+([.!?;:,])", r"\1", MARKER.sub("", sentence)).rstrip()
    end = body[-1] if body[-1:] in ".!?" else ""
    return f"{body[: len(body) - len(end)].rstrip()} [{n}]{end}"


def _refusal(text: str, original: str | None, *notes: str) -> Review:
    return Review(True, CheckedAnswer(text, (), (), ()), notes, original)
