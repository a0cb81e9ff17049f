"""Search, answers, provenance records and feedback."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import StreamingResponse

from assistant.answering import AnswerRequest, AnswerService
from assistant.api.deps import CallerDep, ServicesDep
from assistant.api.schemas import (
    AnswerRequestBody,
    AnswerResponse,
    FeedbackRequest,
    FeedbackResponse,
    GeneratorInfo,
    GeneratorsOut,
    HitOut,
    Me,
    ProvenanceOut,
    SearchRequest,
    SearchResponse,
    StatsOut,
)
from assistant.api.streaming import closing_body, collect, ndjson
from assistant.audit import redact
from assistant.errors import GeneratorUnavailable, NotFound
from assistant.filters import Filters, can_read
from assistant.generation.base import Message

router = APIRouter(prefix="/v1")


def to_filters(raw: dict[str, str | list[str]] | None) -> Filters:
    """API filters (value or list of values) as the library's filters."""
    return {k.strip(): tuple([v] if isinstance(v, str) else v) for k, v in (raw or {}).items()}


def answerer(svc: ServicesDep, name: str | None) -> AnswerService:
    """The answer service of generator ``name`` (422 for one the server does not offer)."""
    chosen = name or svc.default_generator
    if chosen not in svc.answerers:
        from fastapi.exceptions import RequestValidationError

        raise RequestValidationError(
            [
                {
                    "loc": ("body", "generator"),
                    "msg": f"unknown generator {chosen!r}; available: {', '.join(sorted(svc.answerers))}",
                    "type": "value_error",
                }
            ]
        )
    service = svc.answerers[chosen]
    state = service.generator.availability()
    if not state.available:
        raise GeneratorUnavailable(f"the {chosen} generator is unavailable: {state.reason}", state.install)
    return service


@router.get("/me", response_model=Me, summary="Who the API key belongs to")
def me(caller: CallerDep) -> Me:
    key = caller.key
    return Me(user=key.user, groups=sorted(caller.principal.groups), roles=list(key.roles), key_id=key.key_id)


@router.get("/stats", response_model=StatsOut, summary="How many documents and passages the caller may read")
def stats(svc: ServicesDep, caller: CallerDep) -> StatsOut:
    groups = caller.principal.groups
    counts = svc.assistant.store.chunk_counts()
    readable = [s.document.doc_id for s in svc.assistant.store.documents() if can_read(s.document, groups)]
    return StatsOut(documents=len(readable), chunks=sum(counts.get(d, 0) for d in readable))


@router.get("/generators", response_model=GeneratorsOut, summary="Answer generators this server offers")
def generators(svc: ServicesDep, caller: CallerDep) -> GeneratorsOut:
    infos = []
    for name, service in svc.answerers.items():
        state = service.generator.availability()
        infos.append(
            GeneratorInfo(
                name=name,
                available=state.available,
                reason=state.reason,
                install=state.install,
                model_id=service.generator.model_id if state.available else None,
            )
        )
    return GeneratorsOut(
        default=svc.default_generator,
        available=sorted(i.name for i in infos if i.available),
        generators=infos,
    )


@router.post("/search", response_model=SearchResponse, summary="Ranked passages the caller may read")
def search(body: SearchRequest, svc: ServicesDep, caller: CallerDep) -> SearchResponse:
    started = time.perf_counter()
    hits = svc.assistant.retriever.search(
        body.query, caller.principal, k=body.k, mode=body.mode, filters=to_filters(body.filters)
    )
    return SearchResponse(
        hits=[HitOut.of(h) for h in hits], took_ms=round((time.perf_counter() - started) * 1000, 1)
    )


@router.post(
    "/answer",
    response_model=AnswerResponse,
    summary="A cited answer from the documents the caller may read",
    responses={
        200: {
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
            "description": "JSON, or with stream=true / Accept: application/x-ndjson one JSON event per "
            "line: sources, delta..., then done (or error).",
        },
        502: {"description": "The generator failed"},
        503: {"description": "The generator is unavailable (see GET /v1/generators)"},
        504: {"description": "The generator timed out"},
    },
)
def answer(
    body: AnswerRequestBody,
    svc: ServicesDep,
    caller: CallerDep,
    accept: Annotated[str | None, Header()] = None,
) -> AnswerResponse | StreamingResponse:
    service = answerer(svc, body.generator)
    request = AnswerRequest(
        question=body.question,
        history=tuple(Message(t.role, t.content) for t in body.history),
        filters=to_filters(body.filters),
        k=body.k,
        mode=body.mode,
    )
    events = service.stream(request, caller.principal)
    if body.stream or "application/x-ndjson" in (accept or ""):
        return StreamingResponse(
            closing_body(ndjson(events)),
            media_type="application/x-ndjson",
            headers={"Cache-Control": "no-cache"},
        )
    return AnswerResponse.of(collect(events).result)


@router.get(
    "/answers/{provenance_id}",
    response_model=ProvenanceOut,
    summary="The provenance record of an answer (the asker or an auditor)",
    responses={404: {"description": "No such record, or not yours"}},
)
def provenance(provenance_id: str, svc: ServicesDep, caller: CallerDep) -> ProvenanceOut:
    stored = svc.audit.get(provenance_id)
    if stored.user_id != caller.key.user and "auditor" not in caller.key.roles:
        raise NotFound(f"no answer record {provenance_id!r}")
    record, redacted = redact(stored.record, caller.principal.groups)
    return ProvenanceOut(
        provenance_id=stored.provenance_id,
        created_at=stored.created_at,
        user_id=stored.user_id,
        hash=stored.hash,
        prev_hash=stored.prev_hash,
        record=record,
        redacted=redacted,
        feedback=svc.audit.feedback(provenance_id),
    )


@router.post("/feedback", response_model=FeedbackResponse, summary="Thumbs up or down on an answer")
def feedback(body: FeedbackRequest, svc: ServicesDep, caller: CallerDep) -> FeedbackResponse:
    stored = svc.audit.get(body.provenance_id)
    if stored.user_id != caller.key.user:
        raise NotFound(f"no answer record {body.provenance_id!r}")
    svc.audit.add_feedback(body.provenance_id, caller.key.user, body.rating, body.comment)
    return FeedbackResponse(provenance_id=body.provenance_id, recorded=True)
