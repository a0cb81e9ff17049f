"""Core value types shared by every layer (see DESIGN.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

PUBLIC_GROUP = "public"
SECTION_SEPARATOR = " > "  # joins the headings of a section path

Retriever = Literal["dense", "lexical", "fused", "reranked"]
SearchMode = Literal["hybrid", "dense", "lexical"]


@dataclass(frozen=True, slots=True)
class Document:
    """One ingested file: identity is its source path, version is the sha256 of its bytes."""

    doc_id: str
    source: str
    sha256: str
    title: str
    mime: str
    metadata: dict[str, Any]
    acl: frozenset[str]
    ingested_at: str
    pages: int | None = None
    # Who uploaded it through the API (the key's user, verbatim); None for documents ingested from the CLI.
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class Chunk:
    """A retrievable passage: never crosses a PDF page; carries its section heading path."""

    chunk_id: str
    doc_id: str
    ordinal: int
    text: str
    page: int | None
    section: str | None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Hit:
    """A chunk returned by retrieval, with the retriever that produced its final score."""

    chunk: Chunk
    score: float  # the ranking score: fused and reranked, normalised per query (the best is near 1)
    rank: int
    retriever: Retriever
    document: Document
    # How well the passage matches the query on an absolute scale (assistant/relevance.py): the mean of the
    # dense cosine and the lexical coverage of the question's words; comparable across queries (``score`` is
    # not).
    relevance: float | None = None


@dataclass(frozen=True, slots=True)
class Citation:
    """A numbered reference from answer text to the page or section it came from."""

    marker: int
    chunk_id: str
    doc_id: str
    source: str
    page: int | None
    section: str | None
    quote: str


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer with its citations, the hits it was built from and its provenance record id."""

    question: str
    text: str
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    refused: bool
    provenance_id: str | None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a user id and the groups whose documents they may read."""

    user_id: str
    groups: frozenset[str]

    @classmethod
    def of(
        cls, user_id: str, groups: list[str] | tuple[str, ...] | frozenset[str] | None = None
    ) -> Principal:
        """Build a principal; with no groups it reads only public documents."""
        return cls(user_id, frozenset(groups) if groups else frozenset({PUBLIC_GROUP}))


def section_heading(section: str | None) -> str | None:
    """The innermost heading of a section path such as ``"4 Brakes > 4.2 Pads"``."""
    if not section:
        return None
    return section.rsplit(SECTION_SEPARATOR, 1)[-1]
