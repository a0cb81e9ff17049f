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
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from assistant.audit import AuditLog
from assistant.citations import CheckedAnswer, check, content_words, strip_invalid_markers
from assistant.config import Settings
from assistant.entities import Scope, brands, key, mentions, named_all, passage_about, scope
from assistant.errors import GeneratorError
from assistant.filters import Filters
from assistant.generation.base import Generator, Message
from assistant.generation.extractive import REFUSAL_TEXT
from assistant.injection import looks_like_instruction
from assistant.postcheck import NOT_COVERED, review
from assistant.prompts import Template, answer_prompt, load_template
from assistant.refusal import EvidenceScorer
from assistant.retrieval import Retriever
from assistant.rewrite import rewrite
from assistant.store import Store
from assistant.types import Citation, Hit, Principal, SearchMode

_CLOSEST = "The closest sources are listed below."
_DOCUMENT_CACHE = 256  # documents kept as text for entity checks
_DOCUMENT_MENTIONS = 3  # how often a document names an identifier to count as being about it
_NARROWED_COVERAGE = 0.34  # least share of a question's other words a passage about its entity must hold
ABORTED = "client disconnected"  # the error of an answer whose client went away before its end
_PROBE_K = 30  # lexical hits searched for a passage about an entity the first retrieval missed
# Words of a question that say nothing about its subject ("sometimes", "again"): not counted in coverage.
_VAGUE = frozenset(
    content_words(
        "sometimes itself themselves again few really actually just also always often usually still some "
        "many much very why how what which when where who whom whose does do did has have had been being "
        "must should can could would will may might there their they them these those its other"
    )
)
_WIDEN_TOP = 1  # hits whose neighbouring chunks of the same page or section join the sources
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
    """Drops ``[n]`` markers that point to no source from streamed text without delaying other text long,
    and renumbers the others 1..n in reading order (``order`` maps a source number to its new number)."""

    def __init__(self, n_sources: int) -> None:
        self.n_sources = n_sources
        self.order: dict[int, int] = {}
        self._held = ""

    def reorder(self, hits: tuple[Hit, ...]) -> tuple[Hit, ...]:
        """``hits`` in the new numbering: the cited ones in the order first cited, then the rest in order."""
        cited = sorted(self.order, key=self.order.__getitem__)
        rest = [n for n in range(1, len(hits) + 1) if n not in self.order]
        return tuple(replace(hits[n - 1], rank=i) for i, n in enumerate([*cited, *rest], start=1))

    def feed(self, piece: str) -> str:
        text = self._held + piece
        cut = text.rfind("[")
        if cut != -1 and "]" not in text[cut:] and len(text) - cut <= 16:
            self._held, text = text[cut:], text[:cut]
        else:
            self._held = ""
        if "[" in text:
            text = strip_invalid_markers(text, self.n_sources, self.order)[0]
        # Trailing spaces wait for what follows: a dropped marker must not leave "steel ." behind.
        body = text.rstrip(" ")
        self._held = text[len(body) :] + self._held
        return body

    def flush(self) -> str:
        text, self._held = self._held, ""
        return strip_invalid_markers(text, self.n_sources, self.order)[0]


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
        "uploaded_by": hit.document.owner,  # None: ingested from the command line
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
        >>> service = AnswerService(settings, store, retriever, generator, audit_log)  # doctest: +SKIP
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
        self._documents: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._documents_lock = threading.Lock()

    def should_refuse(self, hits: tuple[Hit, ...], evidence: float) -> bool:
        """Refuse before generating: nothing readable was found, or the evidence is below the threshold."""
        return not hits or evidence < self.settings.refusal_threshold

    def scoped(
        self, query: str, hits: tuple[Hit, ...], principal: Principal, request: AnswerRequest, k: int
    ) -> Scope:
        """The hits about the entities the query names; a lexical probe looks further for a missing one."""
        result = scope(query, hits, self.about)
        if not result.missing:
            return result
        seen = {h.chunk.chunk_id for h in hits}
        probe = self.retriever.search(query, principal, k=_PROBE_K, mode="lexical", filters=request.filters)
        extra = [
            h
            for h in probe
            if h.chunk.chunk_id not in seen and any(mentions(e, self.about(h)) for e in result.missing)
        ]
        if not extra:
            return result
        return scope(query, (*hits, *extra[:k]), self.about)

    def sources(
        self, query: str, found: tuple[Hit, ...], principal: Principal, request: AnswerRequest, k: int
    ) -> tuple[Scope, tuple[Hit, ...], float]:
        """What the generator sees for the hits ``found``: the entity scope, the sources (the hits about the
        named entities, widened by the top hit's neighbours) and the evidence of the scoped hits."""
        scoped = self.scoped(query, found, principal, request, k)
        evidence = self.scorer.evidence(query, scoped.hits)
        return scoped, self.widen(scoped.hits) if scoped.hits else found, evidence

    def widen(self, hits: tuple[Hit, ...]) -> tuple[Hit, ...]:
        """The hits, plus the chunks next to the top hit on the same page and in the same section.

        Retrieval keeps one chunk per page or section in front, so the rest of a table or a paragraph cut by a
        chunk boundary (the ``Ki_Iq`` row after the ``Kp_Iq`` row) never reaches the generator. A neighbour
        belongs to a document the caller may already read. The neighbours follow the retrieved hits.
        """
        seen = {h.chunk.chunk_id for h in hits}
        extra: list[Hit] = []
        for hit in hits[:_WIDEN_TOP]:
            for chunk in self.store.chunks_around(hit.chunk.doc_id, hit.chunk.ordinal):
                same_place = chunk.page == hit.chunk.page and chunk.section == hit.chunk.section
                if same_place and chunk.chunk_id not in seen:
                    seen.add(chunk.chunk_id)
                    rank = len(hits) + len(extra) + 1
                    extra.append(Hit(chunk, hits[-1].score, rank, hit.retriever, hit.document))
        return (*hits, *extra)

    def about(self, hit: Hit) -> str:
        """What a hit is about, for entity checks: its passage, plus what its whole document is about."""
        return passage_about(hit) + "\n" + self.document_about(hit)

    def document_about(self, hit: Hit) -> str:
        """The identifiers a document is about: those in its title or metadata, or named often in its text.

        A page of the KV-4's manual need not repeat "KV-4"; a brake specification that names the TC-2 once,
        to say it is out of scope, is not about the TC-2 (fewer than ``_DOCUMENT_MENTIONS`` mentions).
        Cached per document version.
        """
        version = (hit.document.doc_id, hit.document.sha256)
        with self._documents_lock:
            known = self._documents.get(version)
            if known is not None:
                self._documents.move_to_end(version)
                return known
        values = [str(v) for v in hit.document.metadata.values() if isinstance(v, str | int | float)]
        body = "\n".join(c.text for c in self.store.chunks_of(hit.document.doc_id))
        counts = Counter(key(token) for token in named_all(body))
        strong = [token for token, n in counts.items() if n >= _DOCUMENT_MENTIONS]
        text = "\n".join([hit.document.title or "", *values, *strong])
        with self._documents_lock:
            self._documents[version] = text
            while len(self._documents) > _DOCUMENT_CACHE:
                self._documents.popitem(last=False)
        return text

    def coverage(self, query: str, scoped: Scope) -> float:
        """The largest share of the query's words (besides the named identifiers) one kept passage contains.

        Passages about the right entity can still be about something else (the TC-2's park brake bulletin
        for a question on the TC-2's wheel nuts): with the identifiers set aside, little of the question is
        left in them.
        """
        names = [*scoped.entities, *brands(query)]  # "the Kestrel KV-4": the brand is part of the name
        words = content_words(query) - set().union(*(content_words(e) for e in names)) - _VAGUE
        if not words:
            return 1.0
        return max(
            (len(words & content_words(passage_about(h))) / len(words) for h in scoped.hits), default=0.0
        )

    def refusal(self, scoped: Scope, evidence: float, query: str = "") -> str | None:
        """The refusal text when the answer must be a refusal, else None.

        Refused: no readable hit, a named entity that no readable passage mentions, or evidence below the
        threshold (for a question naming an entity, the evidence of the passages about it).
        """
        if scoped.missing:
            names = " / ".join(scoped.missing)
            if scoped.others:
                return (
                    f"The documents available to you do not cover this for {names}; the closest passages are "
                    f"about {', '.join(scoped.others)}. {_CLOSEST}"
                )
            return f"The documents available to you do not mention {names}. {_CLOSEST}"
        narrow_miss = scoped.narrowed and self.coverage(query, scoped) < _NARROWED_COVERAGE
        if self.should_refuse(scoped.hits, evidence) or narrow_miss:
            if scoped.narrowed:
                return (
                    f"The documents available to you do not cover this for {' / '.join(scoped.entities)}. "
                    f"{_CLOSEST}"
                )
            return NOT_COVERED
        return None

    def compose(
        self, question: str, hits: tuple[Hit, ...], refusal: str | None, markers: MarkerFilter
    ) -> Iterator[str]:
        """The answer text in pieces (``refusal`` when there is one), invalid markers dropped, the others
        renumbered by ``markers``."""
        if refusal is not None:
            yield refusal
            return
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

    def _unfinished(
        self,
        principal: Principal,
        base: dict[str, Any],
        hits: tuple[Hit, ...],
        pieces: list[str],
        timings: dict[str, float],
        generate_started: float,
        started: float,
        error: str,
    ) -> str:
        """Record an answer that did not finish (failed, or abandoned by its client) and return its id."""
        timings["generate_ms"] = _ms(generate_started)
        timings["total_ms"] = _ms(started)
        record = {
            **base,
            "hits": [hit_record(h) for h in hits],
            "answer": "".join(pieces),
            "citations": [],
            "refused": False,
            "unsupported": [],
            "timings": timings,
            "error": error,
            "aborted": error == ABORTED,
        }
        return self.audit.append(principal.user_id, record)

    def stream(self, request: AnswerRequest, principal: Principal) -> Iterator[Event]:
        """Answer ``request`` as ``principal``, yielding events as they happen."""
        started = time.perf_counter()
        timings: dict[str, float] = {}
        question = " ".join(request.question.split())
        query, method = rewrite(question, request.history, self.generator)
        timings["rewrite_ms"] = _ms(started)

        t = time.perf_counter()
        k = request.k or self.settings.answer_k
        found = tuple(
            self.retriever.search(query, principal, k=k, mode=request.mode, filters=request.filters)
        )
        scoped, hits, evidence = self.sources(query, found, principal, request, k)
        timings["retrieve_ms"] = _ms(t)

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
            "entities": {
                "named": list(scoped.entities),
                "missing": list(scoped.missing),
                "set_aside": sorted(
                    {h.chunk.chunk_id for h in found} - {h.chunk.chunk_id for h in scoped.hits}
                )
                if scoped.narrowed
                else [],
            },
            "prompt_template": self.template.template_id,
            "generator": {
                "name": self.generator.name,
                "model_id": self.generator.model_id,
                "params": self.generator.params(),
            },
            "warnings": list(warnings),
        }

        t = time.perf_counter()
        pieces: list[str] = []
        markers = MarkerFilter(len(hits))
        # Once the sources are sent, the answer is recorded whatever happens: finished, failed, or abandoned
        # by a client that disconnects (closing this generator raises GeneratorExit at the pending yield).
        try:
            yield SourcesEvent(query, method, hits)
            t = time.perf_counter()
            refusal = self.refusal(scoped, evidence, query)
            refused_early = refusal is not None
            for piece in self.compose(question, hits, refusal, markers):
                timings.setdefault("first_token_ms", _ms(started))
                pieces.append(piece)
                yield DeltaEvent(piece)
            timings["generate_ms"] = _ms(t)
            ordered = markers.reorder(hits)  # the sources in the answer's numbering: [1] is the first cited
            refused, checked = self.finish("".join(pieces), ordered, refused_early)
            # An LLM's own sentences: values and entities its sources do not bear out are dropped (postcheck).
            reviewed = review(
                query, refused, checked, ordered, self.settings.support_threshold, self.generator.name
            )
            refused, checked = reviewed.refused, reviewed.checked
            timings["total_ms"] = _ms(started)
            record = {
                **base,
                "hits": [hit_record(h) for h in ordered],
                "answer": checked.text,
                "citations": [citation_record(c) for c in checked.citations],
                "refused": refused,
                "unsupported": list(checked.unsupported),
                "support_rate": checked.support_rate,
                "removed_markers": list(checked.removed_markers),
                "postcheck": reviewed.record(),
                "timings": timings,
                "error": None,
            }
            provenance_id = self.audit.append(principal.user_id, record)
        except GeneratorError as err:
            err.provenance_id = self._unfinished(
                principal, base, markers.reorder(hits), pieces, timings, t, started, str(err)
            )
            raise
        except GeneratorExit:
            self._unfinished(principal, base, markers.reorder(hits), pieces, timings, t, started, ABORTED)
            raise
        except Exception as err:
            reason = f"internal error ({type(err).__name__})"
            self._unfinished(principal, base, markers.reorder(hits), pieces, timings, t, started, reason)
            raise
        yield DoneEvent(
            AnswerResult(
                question,
                query,
                method,
                checked.text,
                checked.citations,
                ordered,
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
