"""Answering: rewrite → retrieve (access-filtered) → refuse or generate → check citations → provenance.

:meth:`AnswerService.stream` yields events as they happen, so the API can stream them:

- :class:`SourcesEvent` once, with the hits the generator will see (already filtered by the caller's groups);
- :class:`DeltaEvent` per text piece (markers that point to no source are dropped as the text streams);
- :class:`DoneEvent` last, with the checked citations, the refusal flag and the provenance id.

A generator failure raises :class:`~assistant.errors.GeneratorError` after the events already yielded; a
provenance record of the failed attempt is written first and its id is on the error (``provenance_id``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.audit import AuditLog
from assistant.citations import CheckedAnswer, check, strip_invalid_markers
from assistant.config import Settings
from assistant.errors import GeneratorError
from assistant.filters import Filters
from assistant.generation.base import Generator, Message
from assistant.generation.extractive import REFUSAL_TEXT
from assistant.injection import looks_like_instruction
from assistant.prompts import Template, answer_prompt, load_template
from assistant.refusal import EvidenceScorer
from assistant.retrieval import Retriever
from assistant.rewrite import rewrite
from assistant.store import Store
from assistant.types import Citation, Hit, Principal, SearchMode

NOT_COVERED = "The documents available to you do not cover this. The closest sources are listed below."
_REFUSAL = re.compile(r"^\W*(i don't know|i do not know|i cannot answer|not covered)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class AnswerRequest:
    """What a caller asks."""

    question: str
    history: tuple[Message, ...] = ()
    filters: Filters = field(default_factory=dict)
    k: int | None = None
    mode: SearchMode = "hybrid"


@dataclass(frozen=True, slots=True)
class AnswerResult:
    """A finished answer with everything the API returns and provenance records."""

    question: str
    query: str
    rewrite_method: str
    text: str
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    refused: bool
    unsupported: tuple[str, ...]
    warnings: tuple[str, ...]
    evidence: float
    support_rate: float | None
    timings: dict[str, float]
    provenance_id: str
    generator: str


@dataclass(frozen=True, slots=True)
class SourcesEvent:
    query: str
    rewrite_method: str
    hits: tuple[Hit, ...]


@dataclass(frozen=True, slots=True)
class DeltaEvent:
    text: str


@dataclass(frozen=True, slots=True)
class DoneEvent:
    result: AnswerResult


Event = SourcesEvent | DeltaEvent | DoneEvent


class MarkerFilter:
    """Drops ``[n]`` markers that point to no source from streamed text without delaying other text long."""

    def __init__(self, n_sources: int) -> None:
        self.n_sources = n_sources
        self._held = ""

    def feed(self, piece: str) -> str:
        text = self._held + piece
        cut = text.rfind("[")
        if cut != -1 and "]" not in text[cut:] and len(text) - cut <= 16:
            self._held, text = text[cut:], text[:cut]
        else:
            self._held = ""
        if "[" in text:
            text = strip_invalid_markers(text, self.n_sources)[0]
        # Trailing spaces wait for what follows: a dropped marker must not leave "steel ." behind.
        body = text.rstrip(" ")
        self._held = text[len(body) :] + self._held
        return body

    def flush(self) -> str:
        text, self._held = self._held, ""
        return strip_invalid_markers(text, self.n_sources)[0]


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


def hit_record(hit: Hit) -> dict[str, Any]:
    """How a hit is written into provenance."""
    return {
        "rank": hit.rank,
        "score": round(hit.score, 6),
        "relevance": None if hit.relevance is None else round(hit.relevance, 6),
        "retriever": hit.retriever,
        "chunk_id": hit.chunk.chunk_id,
        "doc_id": hit.document.doc_id,
        "doc_sha256": hit.document.sha256,
        "source": hit.document.source,
        "title": hit.document.title,
        "acl": sorted(hit.document.acl),
        "page": hit.chunk.page,
        "section": hit.chunk.section,
    }


def citation_record(citation: Citation) -> dict[str, Any]:
    """How a citation is written into provenance and API responses."""
    return {
        "marker": citation.marker,
        "chunk_id": citation.chunk_id,
        "doc_id": citation.doc_id,
        "source": citation.source,
        "page": citation.page,
        "section": citation.section,
        "quote": citation.quote,
    }


class AnswerService:
    """Answers questions as a principal and records how.

    Example:
        >>> service = AnswerService(settings, store, retriever, generator, AuditLog(path))  # doctest: +SKIP
        >>> result = service.answer(AnswerRequest("pad wear limit?"), Principal.of("ann"))  # doctest: +SKIP
        >>> result.text, [c.page for c in result.citations]  # doctest: +SKIP
        ('The pad wear warning is raised at 3.0 mm [1].', [4])
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        retriever: Retriever,
        generator: Generator,
        audit: AuditLog,
        embedding_model_id: str,
    ) -> None:
        self.settings = settings
        self.store = store
        self.retriever = retriever
        self.generator = generator
        self.audit = audit
        self.embedding_model_id = embedding_model_id
        self.template: Template = load_template(settings.prompt_template)
        self.scorer = EvidenceScorer(store, retriever.embedder, embedding_model_id)

    def should_refuse(self, hits: tuple[Hit, ...], evidence: float) -> bool:
        """Refuse before generating: nothing readable was found, or the evidence is below the threshold."""
        return not hits or evidence < self.settings.refusal_threshold

    def compose(self, question: str, hits: tuple[Hit, ...], refuse: bool) -> Iterator[str]:
        """The answer text in pieces (the refusal text when ``refuse``), invalid markers dropped."""
        if refuse:
            yield NOT_COVERED
            return
        markers = MarkerFilter(len(hits))
        for piece in self.generator.stream(answer_prompt(self.template, question, hits)):
            out = markers.feed(piece)
            if out:
                yield out
        tail = markers.flush()
        if tail:
            yield tail

    def finish(self, text: str, hits: tuple[Hit, ...], refused_early: bool) -> tuple[bool, CheckedAnswer]:
        """Whether the answer is a refusal, and its checked citations."""
        raw = text.strip()
        refused = refused_early or bool(_REFUSAL.match(raw)) or raw == REFUSAL_TEXT
        if refused:
            return True, CheckedAnswer(raw, (), (), ())
        return False, check(raw, hits, self.settings.support_threshold, attach=True)

    def answer(self, request: AnswerRequest, principal: Principal) -> AnswerResult:
        """The finished answer (the streamed events collected)."""
        for event in self.stream(request, principal):
            if isinstance(event, DoneEvent):
                return event.result
        raise GeneratorError("the answer ended without a result")  # pragma: no cover - stream always ends

    def stream(self, request: AnswerRequest, principal: Principal) -> Iterator[Event]:
        """Answer ``request`` as ``principal``, yielding events as they happen."""
        started = time.perf_counter()
        timings: dict[str, float] = {}
        question = " ".join(request.question.split())
        query, method = rewrite(question, request.history, self.generator)
        timings["rewrite_ms"] = _ms(started)

        t = time.perf_counter()
        k = request.k or self.settings.answer_k
        hits = tuple(self.retriever.search(query, principal, k=k, mode=request.mode, filters=request.filters))
        evidence = self.scorer.evidence(query, hits)
        timings["retrieve_ms"] = _ms(t)
        yield SourcesEvent(query, method, hits)

        warnings = tuple(
            f"source [{h.rank}] ({h.document.source}, page {h.chunk.page}) contains text that looks like "
            "instructions to an AI; it was treated as data"
            for h in hits
            if looks_like_instruction(h.chunk.text)
        )
        base = {
            "principal": {"user_id": principal.user_id, "groups": sorted(principal.groups)},
            "question": question,
            "history": [{"role": m.role, "content": m.content} for m in request.history],
            "rewritten_query": query,
            "rewrite_method": method,
            "filters": {key: list(values) for key, values in request.filters.items()},
            "k": k,
            "mode": request.mode,
            "retrieval": {
                "index_generation": self.store.generation(),
                "embedding_model": self.embedding_model_id,
                "reranker": self.retriever.model_ids(),
                "params": asdict(self.retriever.params),
                "evidence": round(evidence, 6),
                "refusal_threshold": self.settings.refusal_threshold,
            },
            "hits": [hit_record(h) for h in hits],
            "prompt_template": self.template.template_id,
            "generator": {
                "name": self.generator.name,
                "model_id": self.generator.model_id,
                "params": self.generator.params(),
            },
            "warnings": list(warnings),
        }

        t = time.perf_counter()
        refused_early = self.should_refuse(hits, evidence)
        pieces: list[str] = []
        try:
            for piece in self.compose(question, hits, refused_early):
                timings.setdefault("first_token_ms", _ms(started))
                pieces.append(piece)
                yield DeltaEvent(piece)
        except GeneratorError as err:
            timings["generate_ms"] = _ms(t)
            timings["total_ms"] = _ms(started)
            record = {
                **base,
                "answer": "".join(pieces),
                "citations": [],
                "refused": False,
                "unsupported": [],
                "timings": timings,
                "error": str(err),
            }
            err.provenance_id = self.audit.append(principal.user_id, record)
            raise
        timings["generate_ms"] = _ms(t)
        refused, checked = self.finish("".join(pieces), hits, refused_early)
        timings["total_ms"] = _ms(started)
        record = {
            **base,
            "answer": checked.text,
            "citations": [citation_record(c) for c in checked.citations],
            "refused": refused,
            "unsupported": list(checked.unsupported),
            "support_rate": checked.support_rate,
            "removed_markers": list(checked.removed_markers),
            "timings": timings,
            "error": None,
        }
        provenance_id = self.audit.append(principal.user_id, record)
        yield DoneEvent(
            AnswerResult(
                question,
                query,
                method,
                checked.text,
                checked.citations,
                hits,
                refused,
                checked.unsupported,
                warnings,
                evidence,
                checked.support_rate,
                timings,
                provenance_id,
                self.generator.name,
            )
        )
