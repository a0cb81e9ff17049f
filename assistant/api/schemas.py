"""Request and response bodies of the HTTP API (they are the OpenAPI schema)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from assistant import relevance
from assistant.answering import AnswerResult, citation_record
from assistant.filters import FilterError, check_filters
from assistant.types import Citation, Document, Hit

MAX_QUESTION = 4000
FilterValues = dict[str, str | list[str]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _filters_ok(value: FilterValues | None) -> FilterValues | None:
    for key, values in (value or {}).items():
        items = [values] if isinstance(values, str) else values
        if not key.strip() or not items or any(not isinstance(v, str) or not v.strip() for v in items):
            raise ValueError(f"filter {key[:40]!r} needs a non-empty key and one or more non-empty values")
    try:
        check_filters({k.strip(): v for k, v in (value or {}).items()})
    except FilterError as err:
        raise ValueError(str(err)) from err
    return value


class SearchRequest(_Strict):
    query: str = Field(min_length=1, max_length=MAX_QUESTION, description="What to search for.")
    k: int = Field(10, ge=1, le=100, description="How many hits.")
    mode: Literal["hybrid", "dense", "lexical"] = "hybrid"
    filters: FilterValues | None = Field(
        None, description="Metadata filters: key → value or list of values (any of them).", max_length=20
    )

    _check = field_validator("filters")(_filters_ok)

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("query is blank")
        return value


class HitOut(BaseModel):
    rank: int
    score: float = Field(
        description="Ranking score, normalised per query (the best hit is near 1): an order."
    )
    relevance: float | None = Field(
        None, description="Absolute match of passage and question, 0-1 (assistant/relevance.py)."
    )
    relevance_label: str | None = Field(None, description="high, medium or low.")
    doc_id: str
    source: str
    title: str
    page: int | None
    section: str | None
    chunk_id: str
    retriever: str
    text: str

    @classmethod
    def of(cls, hit: Hit) -> HitOut:
        return cls(
            rank=hit.rank,
            score=round(hit.score, 6),
            relevance=relevance.shown(hit.relevance),
            relevance_label=relevance.label(hit.relevance),
            doc_id=hit.document.doc_id,
            source=hit.document.source,
            title=hit.document.title,
            page=hit.chunk.page,
            section=hit.chunk.section,
            chunk_id=hit.chunk.chunk_id,
            retriever=hit.retriever,
            text=hit.chunk.text,
        )


class SearchResponse(BaseModel):
    hits: list[HitOut]
    took_ms: float


class Turn(_Strict):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)


class AnswerRequestBody(_Strict):
    question: str = Field(min_length=1, max_length=MAX_QUESTION)
    history: list[Turn] = Field(
        default_factory=list, max_length=50, description="Earlier turns, oldest first."
    )
    filters: FilterValues | None = Field(None, max_length=20)
    k: int | None = Field(None, ge=1, le=20, description="Sources the generator sees.")
    mode: Literal["hybrid", "dense", "lexical"] = "hybrid"
    generator: str | None = Field(None, description="One of GET /v1/generators; default: the server's.")
    stream: bool = Field(False, description="Stream NDJSON events (sources, delta..., done | error).")

    _check = field_validator("filters")(_filters_ok)

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question is blank")
        return value


class CitationOut(BaseModel):
    marker: int
    doc_id: str
    source: str
    title: str
    page: int | None
    section: str | None
    quote: str
    chunk_id: str

    @classmethod
    def of(cls, citation: Citation, titles: dict[str, str]) -> CitationOut:
        return cls(title=titles.get(citation.doc_id, citation.source), **citation_record(citation))


class AnswerResponse(BaseModel):
    answer: str
    citations: list[CitationOut]
    refused: bool
    sources: list[HitOut] = Field(description="The hits the generator saw; marker n is sources[n-1].")
    provenance_id: str
    timings: dict[str, float]
    rewritten_query: str
    unsupported: list[str] = Field(description="Answer sentences their citations do not support.")
    warnings: list[str]
    generator: str

    @classmethod
    def of(cls, result: AnswerResult) -> AnswerResponse:
        titles = {h.document.doc_id: h.document.title for h in result.hits}
        return cls(
            answer=result.text,
            citations=[CitationOut.of(c, titles) for c in result.citations],
            refused=result.refused,
            sources=[HitOut.of(h) for h in result.hits],
            provenance_id=result.provenance_id,
            timings=result.timings,
            rewritten_query=result.query,
            unsupported=list(result.unsupported),
            warnings=list(result.warnings),
            generator=result.generator,
        )


class DocumentOut(BaseModel):
    doc_id: str
    source: str
    title: str
    mime: str
    pages: int | None
    chunks: int
    acl: list[str]
    metadata: dict[str, Any]
    sha256: str
    ingested_at: str
    uploaded_by: str | None = Field(
        None, description="The user whose API key uploaded it; null for documents ingested from the CLI."
    )

    @classmethod
    def of(cls, document: Document, chunks: int) -> DocumentOut:
        return cls(
            doc_id=document.doc_id,
            source=document.source,
            title=document.title,
            mime=document.mime,
            pages=document.pages,
            chunks=chunks,
            acl=sorted(document.acl),
            metadata=document.metadata,
            sha256=document.sha256,
            ingested_at=document.ingested_at,
            uploaded_by=document.owner,
        )


class DocumentList(BaseModel):
    documents: list[DocumentOut]
    facets: dict[str, list[str]] = Field(description="Metadata values of the listed documents, per key.")


class PageOut(BaseModel):
    doc_id: str
    title: str
    source: str
    page: int
    pages: int | None
    text: str
    sections: list[str]


class UploadFileResult(BaseModel):
    source: str
    status: str
    reason: str | None = None
    doc_id: str | None = None
    chunks: int = 0


class UploadResponse(BaseModel):
    files: list[UploadFileResult]
    ok: bool


class DeleteResponse(BaseModel):
    doc_id: str
    deleted: bool


class FeedbackRequest(_Strict):
    provenance_id: str = Field(min_length=1, max_length=100)
    rating: Literal["up", "down"]
    comment: str | None = Field(None, max_length=4000)


class FeedbackResponse(BaseModel):
    provenance_id: str
    recorded: bool


class ProvenanceOut(BaseModel):
    provenance_id: str
    created_at: str
    user_id: str
    hash: str
    prev_hash: str
    record: dict[str, Any]
    redacted: bool = Field(description="Whether parts citing documents you may not read were withheld.")
    feedback: list[dict[str, Any]]


class Me(BaseModel):
    user: str
    groups: list[str]
    roles: list[str]
    key_id: str


class StatsOut(BaseModel):
    documents: int = Field(description="Documents the caller may read.")
    chunks: int = Field(description="Passages of those documents.")


class GeneratorInfo(BaseModel):
    name: str
    available: bool
    reason: str | None = Field(None, description="Why it cannot answer now.")
    install: str | None = Field(None, description="The command or setting that would make it available.")
    model_id: str | None = None


class GeneratorsOut(BaseModel):
    default: str = Field(description="The generator used when a request names none (it may be unavailable).")
    available: list[str] = Field(description="The generators that can answer now.")
    generators: list[GeneratorInfo]


class ErrorOut(BaseModel):
    error: str
    detail: str


# -- OpenAI-compatible chat completions ---------------------------------------------------------------------


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(p.text or "" for p in self.content if p.type == "text")


class ChatRequest(BaseModel):
    """The OpenAI request body; unknown fields are accepted and ignored, as OpenAI-compatible servers do."""

    model_config = ConfigDict(extra="allow")
    model: str = Field("eka", max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=100)
    stream: bool = False
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1)
    user: str | None = None


class ChatChoiceMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatChoiceMessage
    finish_reason: str = "stop"


class ChatUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = "eka"
    choices: list[ChatChoice]
    usage: ChatUsage
    eka: AnswerResponse = Field(description="eka's answer: citations, sources, refusal and provenance id.")


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "eka"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]
