"""The extractive generator: no LLM, the answer is the best-supported sentences of the sources, each cited.

Every source sentence is scored against the question by the embedding model (cosine) and by content-word
overlap; the best few, above a share of the best score, are returned in reading order with their ``[n]``
markers. Sentences that look like instructions to an AI are never quoted. When no sentence shares any content
with the question the answer says so instead of guessing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import numpy as np

from assistant.citations import HEADING, content_words, unwrap_lines
from assistant.config import Settings
from assistant.embedding import Embedder
from assistant.entities import named
from assistant.generation.answer_type import expected, fits
from assistant.generation.base import AVAILABLE, Availability, Message, Prompt
from assistant.injection import looks_like_instruction
from assistant.tables import render_row, table_runs

REFUSAL_TEXT = "I don't know: the documents available to you do not cover this."

_PIECES = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])|\n+")
_MAX_PIECE_CHARS = 400
_MAX_CANDIDATES = 48  # sentences embedded per answer, after a lexical pre-selection
# A sentence opening with a pronoun ("This ...", "It ...") leans on one that is not quoted.
_DANGLING = re.compile(r"^(this|that|these|those|it|they|its|their|such)\b", re.IGNORECASE)
_DANGLING_PENALTY = 0.05
# How strongly a sentence's fit with the asked kind counts, relative to ``type_weight``: an expansion of the
# asked acronym or a new identifier is rare and telling; a number with a unit is common.
_KIND_WEIGHT = {"definition": 3.0, "identifier": 1.5, "value": 0.8, "other": 0.0}


def quotable(piece: str, first: bool, last: bool) -> bool:
    """Whether a piece of a chunk can stand as an answer sentence on its own.

    Headings, fragments cut by a chunk boundary (a first piece starting in lower case, a last piece with no
    closing punctuation), very short pieces and text addressed to an AI are not.
    """
    words = piece.split()
    if len(words) < 4 or len(piece) > _MAX_PIECE_CHARS or HEADING.match(piece):
        return False
    if first and piece[0].islower():
        return False
    if last and "|" not in piece and piece[-1] not in ".!?:)\"'":
        return False
    return not looks_like_instruction(piece)


def pieces_of(text: str) -> list[tuple[str, bool]]:
    """A chunk's candidate sentences, each with whether it is a table row.

    A table row is one piece, read as ``header: value`` pairs (`assistant.tables.render_row`), never split
    at a full stop inside a cell and never quoted with its pipes. A header row is a piece of its own only in a
    two-column table, where it is usually data (``Document ID | NMG-...``). A chunk that looks like
    instructions to an AI has none: a marker line (``<|im_start|>system``) can flag a passage whose sentences
    look harmless one by one.
    """
    if looks_like_instruction(text):
        return []
    lines = unwrap_lines(text).split("\n")
    runs = {run.start: run for run in table_runs(lines)}
    pieces: list[tuple[str, bool]] = []
    i = 0
    while i < len(lines):
        run = runs.get(i)
        if run is None:
            pieces.extend((p, False) for p in (" ".join(p.split()) for p in _PIECES.split(lines[i])) if p)
            i += 1
            continue
        rows = ([run.header] if len(run.header) == 2 else []) + run.rows
        pieces.extend((render_row(cells, run.header), True) for cells in rows)
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
            for position, (piece, row) in enumerate(pieces):
                if quotable(piece, position == 0 and not row, position == len(pieces) - 1 and not row):
                    label = pieces[position - 1][0] if position and not row else ""
                    if label and len(label.split()) <= 2 and named(label):  # "CSR-NET-004" above its text
                        piece = f"{label}: {piece}"
                    out.append((n, position, piece))
        return out

    def select(self, prompt: Prompt) -> list[tuple[int, int, str, float]]:
        """The chosen (source number, position, sentence, score), in the order they are answered."""
        candidates = self._candidates(prompt)
        question_words = content_words(prompt.question)
        if not candidates or not question_words:
            return []
        overlap = np.asarray(
            [len(question_words & content_words(c[2])) / len(question_words) for c in candidates]
        )
        if not overlap.max() > 0:
            return []
        if len(candidates) > _MAX_CANDIDATES:  # embed only the lexically most promising sentences
            keep = sorted(np.argsort(-overlap, kind="stable")[:_MAX_CANDIDATES].tolist())
            candidates = [candidates[i] for i in keep]
            overlap = overlap[keep]
        query = self.embedder.embed_queries([prompt.question])[0]
        vectors = self.embedder.embed_passages([c[2] for c in candidates])
        cosine = vectors @ query
        # A small preference for higher-ranked sources breaks ties between similar sentences.
        rank_bonus = np.asarray(
            [0.02 * (len(prompt.sources) - c[0]) / len(prompt.sources) for c in candidates]
        )
        # What the question asks for (a value, an identifier, a definition): sentences that state one lead.
        kind = expected(prompt.question)
        fit = np.asarray([fits(kind, c[2], prompt.question) for c in candidates])
        dangling = np.asarray([1.0 if _DANGLING.match(c[2]) else 0.0 for c in candidates])
        scores = (
            self.semantic_weight * cosine
            + (1 - self.semantic_weight) * overlap
            + rank_bonus
            + self.type_weight * _KIND_WEIGHT[kind] * fit
            - _DANGLING_PENALTY * dangling
        )
        order = np.argsort(-scores, kind="stable")
        best = float(scores[order[0]])
        chosen: list[tuple[int, int, str, float]] = []
        seen: list[set[str]] = []
        for i in order:
            if len(chosen) >= self.max_sentences or scores[i] < self.relative_floor * best:
                break
            n, position, sentence = candidates[i]
            words = content_words(sentence)
            if any(len(words & other) >= 0.8 * max(len(words), 1) for other in seen):
                continue  # a near-duplicate (overlapping chunks repeat text)
            seen.append(words)
            chosen.append((n, position, sentence, float(scores[i])))
        # The sentence that states the asked kind of fact leads (else the best); the rest in reading order.
        lead = next((c for c in chosen if fits(kind, c[2], prompt.question)), chosen[0]) if chosen else None
        rest = sorted((c for c in chosen if c is not lead), key=lambda c: (c[0], c[1]))
        return [lead, *rest] if lead else []

    def stream(self, prompt: Prompt) -> Iterator[str]:
        chosen = self.select(prompt)
        if not chosen:
            yield REFUSAL_TEXT
            return
        for i, (n, _, sentence, _) in enumerate(chosen):
            sentence = sentence.rstrip()
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
