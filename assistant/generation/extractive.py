"""The extractive generator: no LLM, the answer is the best-supported sentences of the sources, each cited.

Every source sentence is scored against the question by the embedding model (cosine) and by content-word
overlap; the best few, above a share of the best score, are returned in reading order with their ``[n]``
markers. Sentences that look like instructions to an AI are never quoted. When no sentence shares any content
with the question the answer says so instead of guessing.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np

from assistant.citations import HEADING, ITEM, content_words, unwrap_lines
from assistant.config import Settings
from assistant.embedding import Embedder
from assistant.entities import named
from assistant.generation.answer_type import AnswerType, expanded, expected, explains, fits, question_parts
from assistant.generation.base import AVAILABLE, Availability, Message, Prompt
from assistant.injection import looks_like_instruction
from assistant.tables import render_row, table_runs

REFUSAL_TEXT = "I don't know: the documents available to you do not cover this."

_PIECES = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])|\n+")
_MAX_PIECE_CHARS = 400
_VECTOR_CACHE = 20_000  # sentence vectors kept (384 floats each: about 30 MB)
_MAX_CANDIDATES = 48  # sentences embedded per answer, after a lexical pre-selection
# A sentence opening with a pronoun ("This ...", "It ...") leans on one that is not quoted.
_DANGLING = re.compile(r"^(this|that|these|those|it|they|its|their|such)\b", re.IGNORECASE)
_DANGLING_PENALTY = 0.05
# How strongly a sentence's fit with the asked kind counts, relative to ``type_weight``: an expansion of the
# asked acronym or a new identifier is rare and telling; a number with a unit is common.
_KIND_WEIGHT = {
    "definition": 3.0,
    "identifier": 1.5,
    "reason": 1.5,
    "procedure": 1.0,
    "value": 0.8,
    "other": 0.0,
}
_CLOSING = ".!?:;,)\"'"
_HEADING_NUMBER = re.compile(r"^\s*\d+(?:\.\d+)*\.?\s*")
_COHESION = 0.04  # bonus for a sentence from the lead's passage, and again for one next to the lead
_HEADING_WORD = 0.5  # a question word found only in the sentence's section heading counts this much
_MINOR_WORD = 0.5  # weight of named identifiers and, in identifier questions, of "part", "number"...
_IDENTIFIER_WORDS = frozenset(content_words("part number code identifier id version dtc"))


def quotable(piece: str, first: bool, row: bool = False, heads: frozenset[str] = frozenset()) -> bool:
    """Whether a piece of a chunk can stand as an answer sentence on its own.

    Not quotable: headings and title lines (a piece with no closing punctuation that is not a list item or a
    table row, or one whose words all come from its document's title and section path, ``heads``), a
    fragment cut by a chunk boundary (a first piece starting in lower case), very short pieces and text
    addressed to an AI.
    """
    words = piece.split()
    if len(words) < 4 or len(piece) > _MAX_PIECE_CHARS or HEADING.match(piece):
        return False
    if first and piece[0].islower():
        return False
    if not row and (piece[-1] not in _CLOSING or piece.endswith(":")) and not ITEM.match(piece):
        return False
    if heads and content_words(piece) <= heads:
        return False
    return not looks_like_instruction(piece)


def _heading(candidate: tuple[int, int, str], prompt: Prompt) -> str:
    """The innermost heading of the section a candidate sentence comes from ("" when it has none)."""
    return (prompt.sources[candidate[0] - 1].chunk.section or "").rsplit(">", 1)[-1]


def pieces_of(text: str) -> list[tuple[str, bool]]:
    """A chunk's candidate sentences, each with whether it is a table row.

    A table row is one piece, read as ``header: value`` pairs (`assistant.tables.render_row`), never split
    at a full stop inside a cell and never quoted with its pipes. A header row is a piece of its own only in a
    two-column table, where it is usually data (``Document ID | NMG-...``). A list item carries the sentence
    that introduces its list ("A static calibration is mandatory after any of the following: windscreen
    replacement or removal of the camera bracket"), so it is never quoted as a fragment. A chunk that looks
    like instructions to an AI has none: a marker line (``<|im_start|>system``) can flag a passage whose
    sentences look harmless one by one.
    """
    if looks_like_instruction(text):
        return []
    lines = unwrap_lines(text).split("\n")
    runs = {run.start: run for run in table_runs(lines)}
    pieces: list[tuple[str, bool]] = []
    lead_in = ""  # the sentence ending in ":" that opens the list being read
    i = 0
    while i < len(lines):
        run = runs.get(i)
        if run is None:
            item = ITEM.match(lines[i])
            sentences = [p for p in (" ".join(p.split()) for p in _PIECES.split(lines[i])) if p]
            if item and lead_in and sentences:
                sentences[0] = f"{lead_in} {sentences[0][item.end() :].strip()}"
            elif not item:
                lead_in = sentences[-1] if sentences and sentences[-1].endswith(":") else ""
            pieces.extend((p, False) for p in sentences)
            i += 1
            continue
        rows = ([run.header] if len(run.header) == 2 else []) + run.rows
        pieces.extend((render_row(cells, run.header), True) for cells in rows)
        lead_in = ""
        i = run.end
    return [(p, row) for p, row in pieces if p]


class ExtractiveGenerator:
    """Answers with cited source sentences.

    Example:
        >>> text = "".join(ExtractiveGenerator(embedder).stream(prompt))  # doctest: +SKIP
        'The pad wear warning is raised at 3.0 mm remaining friction material [1].'
    """

    name = "extractive"

    def __init__(
        self,
        embedder: Embedder,
        settings: Settings | None = None,
        max_sentences: int = 3,
        relative_floor: float = 0.8,
        semantic_weight: float = 0.6,
        type_weight: float = 0.15,
    ) -> None:
        self.embedder = embedder
        self.model_id = f"extractive:{getattr(embedder, 'model_id', 'embedder')}"
        self.max_sentences = max_sentences
        self.relative_floor = relative_floor
        self.semantic_weight = semantic_weight
        self.type_weight = type_weight
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def _embed(self, texts: list[str]) -> np.ndarray:
        """Passage vectors of ``texts``; sentences of popular sources are embedded once (bounded LRU)."""
        with self._lock:
            known = {t: self._vectors[t] for t in texts if t in self._vectors}
            for text in known:
                self._vectors.move_to_end(text)
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            known.update(zip(missing, self.embedder.embed_passages(missing), strict=True))
            with self._lock:
                self._vectors.update((t, known[t]) for t in missing)
                while len(self._vectors) > _VECTOR_CACHE:
                    self._vectors.popitem(last=False)
        return np.asarray([known[t] for t in texts])

    def params(self) -> dict[str, Any]:
        return {
            "max_sentences": self.max_sentences,
            "relative_floor": self.relative_floor,
            "semantic_weight": self.semantic_weight,
            "type_weight": self.type_weight,
        }

    def _candidates(self, prompt: Prompt) -> list[tuple[int, int, str]]:
        """(source number, position, sentence) for every quotable sentence of the sources."""
        out = []
        for n, hit in enumerate(prompt.sources, start=1):
            pieces = pieces_of(hit.chunk.text)
            heads = frozenset(content_words(f"{hit.document.title or ''} {hit.chunk.section or ''}"))
            for position, (piece, row) in enumerate(pieces):
                if quotable(piece, position == 0 and not row, row, heads):
                    label = pieces[position - 1][0] if position and not row else ""
                    if label and len(label.split()) <= 2 and named(label):  # "CSR-NET-004" above its text
                        piece = f"{label}: {piece}"
                    out.append((n, position, piece))
        return out

    @staticmethod
    def _weights(question: str) -> dict[str, float]:
        """Each question word's weight in the overlap: the identifiers it names (mostly settled by entity
        scoping) and the words that name the asked kind of identifier ("part number") count half."""
        words = content_words(question)
        minor = set().union(*(content_words(e) for e in named(question)))
        if expected(question) == "identifier":
            minor |= words & _IDENTIFIER_WORDS
        return {w: _MINOR_WORD if w in minor else 1.0 for w in words}

    @staticmethod
    def _overlap(
        weights: dict[str, float], question: str, candidate: tuple[int, int, str], prompt: Prompt
    ) -> float:
        """Weighted share of the question's words in a sentence.

        A word found only in the sentence's section heading counts half ("The IBM (part number ...) shall"
        sits under "4.1.1 Integrated brake module"), and an acronym of the sentence covers the question's
        words it abbreviates ("IBM" covers "integrated brake module").
        """
        sentence = candidate[2]
        words = set(weights) & (content_words(sentence) | expanded(sentence, question))
        heading = (set(weights) & content_words(_heading(candidate, prompt))) - words
        found = sum(weights[w] for w in words) + _HEADING_WORD * sum(weights[w] for w in heading)
        return found / sum(weights.values())

    @staticmethod
    def _in_context(candidate: tuple[int, int, str], prompt: Prompt) -> str:
        """A sentence as it is embedded: after its section heading, which often names what it is about."""
        leaf = _HEADING_NUMBER.sub("", _heading(candidate, prompt)).strip(" #")
        sentence = candidate[2]
        return f"{leaf}: {sentence}" if leaf and leaf.casefold() not in sentence.casefold() else sentence

    @staticmethod
    def _fit(kind: AnswerType, candidate: tuple[int, int, str], prompt: Prompt, question: str) -> float:
        """Whether a candidate states the asked kind of fact (a reason: any sentence of a cause section)."""
        if kind == "reason" and explains(prompt.sources[candidate[0] - 1].chunk.section):
            return 1.0
        return fits(kind, candidate[2], question)

    def _scores(
        self,
        question: str,
        candidates: list[tuple[int, int, str]],
        vectors: np.ndarray,
        prompt: Prompt,
        overlap: np.ndarray | None = None,
    ) -> np.ndarray:
        """How well each candidate answers ``question`` (the whole question or one of its parts);
        ``overlap`` when the caller already has it."""
        if overlap is None:
            weights = self._weights(question)
            if not weights:
                return np.zeros(len(candidates))
            overlap = np.asarray([self._overlap(weights, question, c, prompt) for c in candidates])
        cosine = vectors @ self.embedder.embed_queries([question])[0]
        # A small preference for higher-ranked sources breaks ties between similar sentences.
        rank_bonus = np.asarray(
            [0.02 * (len(prompt.sources) - c[0]) / len(prompt.sources) for c in candidates]
        )
        # What the question asks for (a value, an identifier, a definition): sentences that state one lead.
        kind = expected(question)
        fit = np.asarray([self._fit(kind, c, prompt, question) for c in candidates])
        dangling = np.asarray([1.0 if _DANGLING.match(c[2]) else 0.0 for c in candidates])
        return np.asarray(
            self.semantic_weight * cosine
            + (1 - self.semantic_weight) * overlap
            + rank_bonus
            + self.type_weight * _KIND_WEIGHT[kind] * fit
            - _DANGLING_PENALTY * dangling
        )

    def select(self, prompt: Prompt) -> list[tuple[int, int, str, float]]:
        """The chosen (source number, position, sentence, score), in the order they are answered.

        The best sentence for the whole question leads, or for a question of several parts ("which ticket
        ..., and what maximum temperature ...?") the best sentence for each part, in the parts' order. The
        rest, up to ``max_sentences``, are the next best within ``relative_floor`` of the lead, preferably
        from the lead's passage, in reading order.
        """
        candidates = self._candidates(prompt)
        weights = self._weights(prompt.question)
        if not candidates or not weights:
            return []
        overlap = np.asarray([self._overlap(weights, prompt.question, c, prompt) for c in candidates])
        if not overlap.max() > 0:
            return []
        if len(candidates) > _MAX_CANDIDATES:  # embed only the lexically most promising sentences
            keep = sorted(np.argsort(-overlap, kind="stable")[:_MAX_CANDIDATES].tolist())
            candidates = [candidates[i] for i in keep]
            overlap = overlap[keep]
        vectors = self._embed([self._in_context(c, prompt) for c in candidates])
        scores = self._scores(prompt.question, candidates, vectors, prompt, overlap)
        parts = question_parts(prompt.question)
        leads = [int(np.argmax(scores))]
        if len(parts) > 1:
            per_part = (self._scores(part, candidates, vectors, prompt) for part in parts)
            leads = list(dict.fromkeys(int(np.argmax(part_scores)) for part_scores in per_part))
        best = float(scores[leads[0]])
        kind = expected(prompt.question)
        lead_source = candidates[leads[0]][0]
        if len(parts) == 1 and kind == "reason" and explains(prompt.sources[lead_source - 1].chunk.section):
            # The lead is in a section that gives the cause ("3. Cause"): that section, in its order, answers.
            section = [(i, c) for i, c in enumerate(candidates) if c[0] == lead_source]
            return [(*c, float(scores[i])) for i, c in section[: self.max_sentences]]
        if len(parts) == 1 and kind == "procedure":
            # Steps answer together: the lead and the sentences after it in its passage, in their order.
            passage = [(i, c) for i, c in enumerate(candidates) if c[0] == lead_source]
            at = next(j for j, (i, _) in enumerate(passage) if i == leads[0])
            start = max(0, min(at, len(passage) - self.max_sentences))
            return [(*c, float(scores[i])) for i, c in passage[start : start + self.max_sentences]]
        # The rest of the answer comes preferably from the lead's passage, next to the lead sentence.
        lead_n, lead_position = candidates[leads[0]][0], candidates[leads[0]][1]
        cohesion = np.asarray(
            [_COHESION * (c[0] == lead_n) * (1 + (abs(c[1] - lead_position) == 1)) for c in candidates]
        )
        order = [*leads, *(i for i in np.argsort(-(scores + cohesion), kind="stable") if i not in leads)]
        chosen: list[tuple[int, int, str, float]] = []
        seen: list[set[str]] = []
        for i in order:
            if len(chosen) >= max(self.max_sentences, len(leads)):
                break
            if i not in leads and scores[i] + cohesion[i] < self.relative_floor * best:
                break
            n, position, sentence = candidates[i]
            words = content_words(sentence)
            if any(len(words & other) >= 0.8 * max(len(words), 1) for other in seen):
                continue  # a near-duplicate (overlapping chunks repeat text)
            seen.append(words)
            chosen.append((n, position, sentence, float(scores[i])))
        if len(parts) > 1:
            return chosen
        # The sentence that states the asked kind of fact leads (else the best); the rest in reading order.
        lead = next((c for c in chosen if self._fit(kind, c[:3], prompt, prompt.question)), chosen[0])
        rest = sorted((c for c in chosen if c is not lead), key=lambda c: (c[0], c[1]))
        return [lead, *rest]

    def stream(self, prompt: Prompt) -> Iterator[str]:
        chosen = self.select(prompt)
        if not chosen:
            yield REFUSAL_TEXT
            return
        for i, (n, _, sentence, _) in enumerate(chosen):
            sentence = sentence.rstrip().rstrip(";,")
            end = "" if sentence[-1:] in ".!?" else "."
            body = sentence[:-1] if end == "" else sentence
            stop = sentence[-1] if end == "" else "."
            yield f"{'' if i == 0 else ' '}{body} [{n}]{stop}"

    def complete(self, messages: tuple[Message, ...], max_tokens: int = 128) -> str:
        """Not an LLM: returns the last user message unchanged (callers fall back to rules)."""
        return next((m.content for m in reversed(messages) if m.role == "user"), "")

    def availability(self) -> Availability:
        """Always available: it needs no model beyond the embedder."""
        return AVAILABLE

    def prepare(self) -> None:
        """Nothing to prepare (the embedder is loaded by the retriever's warm-up)."""

    def close(self) -> None:
        """Nothing to release."""
