"""A small typed HTTP client of the eka answer service: the only way the chat UI reaches eka.

Every call raises one of three exceptions, so the UI can show a clear state for each:

- `ApiUnreachable`: nothing answers at the API's URL (refused, timed out, DNS);
- `InvalidKey`: 401, the key is missing, unknown or revoked;
- `ApiError`: any other error status, with the API's ``error`` code and safe ``detail``.

A failure *during* a streamed answer is not raised: `EkaClient.answer_stream` ends with an `ErrorEvent`, so
the partial answer can still be shown (marked incomplete).

Example:
    >>> client = EkaClient("http://127.0.0.1:8000", "eka_...")
    >>> for event in client.answer_stream("What is the pad wear threshold?"):
    ...     if isinstance(event, DeltaEvent):
    ...         print(event.text, end="")
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = [
    "ApiError",
    "ApiUnreachable",
    "Citation",
    "DeltaEvent",
    "DocumentList",
    "DoneEvent",
    "EkaClient",
    "ErrorEvent",
    "GeneratorInfo",
    "Generators",
    "InvalidKey",
    "Me",
    "Page",
    "Source",
    "SourcesEvent",
    "StreamEvent",
    "UploadResult",
]


class ApiError(Exception):
    """The API answered with an error status (``status``, ``code`` and a safe ``detail``)."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail


class ApiUnreachable(ApiError):
    """Nothing answers at the API's URL."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(0, "unreachable", f"cannot reach the eka API at {url} ({reason})")
        self.url = url


class InvalidKey(ApiError):
    """The API key is missing, unknown or revoked (401)."""


@dataclass(frozen=True, slots=True)
class Me:
    """Who the key belongs to."""

    user: str
    groups: tuple[str, ...]
    roles: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GeneratorInfo:
    """One generator the server knows: whether it can answer now and, if not, why and how to install it."""

    name: str
    available: bool
    reason: str | None = None
    install: str | None = None


@dataclass(frozen=True, slots=True)
class Generators:
    """The answer generators the server offers: its default, those that can answer now, and all of them.

    ``generators`` lists every generator, unavailable ones included (older servers only send ``available``:
    then it lists those).
    """

    default: str
    available: tuple[str, ...]
    generators: tuple[GeneratorInfo, ...] = ()

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Generators:
        """Read ``GET /v1/generators`` leniently: unknown fields are ignored, missing ones defaulted."""
        available = tuple(str(name) for name in data.get("available") or ())
        infos = []
        for item in data.get("generators") or ():
            if isinstance(item, Mapping) and item.get("name"):
                infos.append(
                    GeneratorInfo(
                        name=str(item["name"]),
                        available=bool(item.get("available", item["name"] in available)),
                        reason=str(item["reason"]) if item.get("reason") else None,
                        install=str(item["install"]) if item.get("install") else None,
                    )
                )
        listed = {info.name for info in infos}
        infos += [GeneratorInfo(name, True) for name in available if name not in listed]
        default = str(data.get("default") or (available[0] if available else ""))
        return cls(default, available, tuple(infos))

    def info(self, name: str) -> GeneratorInfo | None:
        """What the server says about generator ``name`` (None if it does not list it)."""
        return next((g for g in self.generators if g.name == name), None)

    @property
    def usable(self) -> tuple[str, ...]:
        """The generators that can answer now, in the server's order."""
        return tuple(g.name for g in self.generators if g.available) or self.available

    @property
    def unavailable(self) -> tuple[GeneratorInfo, ...]:
        """The generators the server lists but that cannot answer now."""
        return tuple(g for g in self.generators if not g.available)

    @property
    def preferred(self) -> str | None:
        """The generator to preselect: the server's default if it can answer, else the first that can."""
        usable = self.usable
        if self.default in usable:
            return self.default
        return usable[0] if usable else None


@dataclass(frozen=True, slots=True)
class DocumentList:
    """The documents the caller may read (as the API returns them) and their metadata facets."""

    documents: tuple[dict[str, Any], ...]
    facets: dict[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Page:
    """One page's text (documents without pages have page 1)."""

    doc_id: str
    title: str
    source: str
    page: int
    pages: int | None
    text: str
    sections: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Source:
    """A passage the generator saw; marker n cites ``sources[n-1]``."""

    rank: int
    score: float
    doc_id: str
    source: str
    title: str
    page: int | None
    section: str | None
    chunk_id: str
    text: str
    relevance: float | None = None  # absolute match 0-1 (older servers send none)
    relevance_label: str | None = None


@dataclass(frozen=True, slots=True)
class Citation:
    """A numbered citation of an answer, with the quoted passage."""

    marker: int
    doc_id: str
    source: str
    title: str
    page: int | None
    section: str | None
    quote: str
    chunk_id: str


@dataclass(frozen=True, slots=True)
class UploadResult:
    """The ingest result of one uploaded file."""

    source: str
    status: str
    reason: str | None
    doc_id: str | None
    chunks: int


@dataclass(frozen=True, slots=True)
class SourcesEvent:
    """First event of a streamed answer: the rewritten query and the sources."""

    rewritten_query: str
    sources: tuple[Source, ...]


@dataclass(frozen=True, slots=True)
class DeltaEvent:
    """A piece of answer text."""

    text: str


@dataclass(frozen=True, slots=True)
class DoneEvent:
    """Last event of a complete answer."""

    answer: str
    citations: tuple[Citation, ...]
    refused: bool
    provenance_id: str
    rewritten_query: str
    generator: str
    timings: dict[str, float] = field(default_factory=dict)
    unsupported: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    # The sources in the answer's numbering ([1] is the first cited); empty from an older API.
    sources: tuple[Source, ...] = ()


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """Last event of an answer that failed part-way (the text so far is incomplete)."""

    error: str
    detail: str
    status: int | None = None
    provenance_id: str | None = None


StreamEvent = SourcesEvent | DeltaEvent | DoneEvent | ErrorEvent


def _pick(cls: type[Any], data: Mapping[str, Any]) -> Any:
    """An instance of dataclass ``cls`` from the keys of ``data`` it knows (newer API fields are ignored)."""
    names = cls.__dataclass_fields__
    return cls(**{k: v for k, v in data.items() if k in names})


def _event(data: Mapping[str, Any]) -> StreamEvent:
    kind = data.get("type")
    if kind == "sources":
        return SourcesEvent(
            rewritten_query=str(data.get("rewritten_query", "")),
            sources=tuple(_pick(Source, s) for s in data.get("sources", [])),
        )
    if kind == "delta":
        return DeltaEvent(str(data.get("text", "")))
    if kind == "done":
        return DoneEvent(
            answer=str(data.get("answer", "")),
            citations=tuple(_pick(Citation, c) for c in data.get("citations", [])),
            refused=bool(data.get("refused", False)),
            provenance_id=str(data.get("provenance_id", "")),
            rewritten_query=str(data.get("rewritten_query", "")),
            generator=str(data.get("generator", "")),
            timings=dict(data.get("timings") or {}),
            unsupported=tuple(data.get("unsupported") or ()),
            warnings=tuple(data.get("warnings") or ()),
            sources=tuple(_pick(Source, s) for s in data.get("sources") or ()),
        )
    if kind == "error":
        return ErrorEvent(
            error=str(data.get("error", "error")),
            detail=str(data.get("detail", "")),
            status=data.get("status"),
            provenance_id=data.get("provenance_id"),
        )
    return ErrorEvent("bad_event", f"the API sent an event this client does not know ({kind!r})")


class EkaClient:
    """The eka HTTP API as typed calls, authenticated with one API key.

    Args:
        base_url: The API's root, e.g. ``http://127.0.0.1:8000``.
        api_key: A key made with ``eka keys create``.
        timeout: Seconds to wait to connect and for each read (a slow local LLM needs a long read timeout).
    """

    def __init__(self, base_url: str, api_key: str, timeout: float = 300.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=httpx.Timeout(timeout, connect=5.0),
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> EkaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as err:
            raise ApiUnreachable(self.base_url, type(err).__name__) from err
        if response.status_code >= 400:
            raise self._error(response.status_code, response.content)
        return response.json()

    @staticmethod
    def _error(status: int, body: bytes) -> ApiError:
        try:
            data = json.loads(body)
            code, detail = str(data.get("error", "error")), data.get("detail", "")
        except (ValueError, AttributeError):
            code, detail = "error", body[:300].decode("utf-8", "replace")
        if not isinstance(detail, str):  # FastAPI validation errors: a list of problems
            detail = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
        cls = InvalidKey if status == 401 else ApiError
        return cls(status, code, detail)

    # -- endpoints -------------------------------------------------------------------------------------------

    def ready(self) -> bool:
        """Whether the API has loaded its model and indexes (``/readyz``, no key needed)."""
        try:
            return self._http.get("/readyz").status_code == 200
        except httpx.TransportError:
            return False

    def me(self) -> Me:
        """The key's user, groups and roles."""
        data = self._request("GET", "/v1/me")
        return Me(data["user"], tuple(data.get("groups", ())), tuple(data.get("roles", ())))

    def generators(self) -> Generators:
        """The generators the server offers and its default."""
        return Generators.parse(self._request("GET", "/v1/generators"))

    def documents(self) -> DocumentList:
        """The documents the caller may read, with their metadata facets."""
        data = self._request("GET", "/v1/documents")
        facets = {k: tuple(v) for k, v in (data.get("facets") or {}).items()}
        return DocumentList(tuple(data.get("documents", ())), facets)

    def page(self, doc_id: str, page: int) -> Page:
        """One page's text and sections (raises ApiError 404 for a page that cannot be read)."""
        data = self._request("GET", f"/v1/documents/{doc_id}/pages/{page}")
        return Page(
            data["doc_id"],
            data["title"],
            data["source"],
            int(data["page"]),
            data.get("pages"),
            data["text"],
            tuple(data.get("sections", ())),
        )

    def page_image(self, doc_id: str, page: int) -> bytes | None:
        """A PDF page rendered as PNG, or None when the server cannot render it (not a PDF, file gone)."""
        try:
            response = self._http.get(f"/v1/documents/{doc_id}/pages/{page}/image")
        except httpx.TransportError as err:
            raise ApiUnreachable(self.base_url, type(err).__name__) from err
        if response.status_code == 200 and response.headers.get("content-type", "").startswith("image/"):
            return response.content
        if response.status_code in (401, 429):
            raise self._error(response.status_code, response.content)
        return None

    def provenance(self, provenance_id: str) -> dict[str, Any]:
        """The provenance record of an answer: ``{"record": {...}, "redacted", "feedback", ...}``."""
        return dict(self._request("GET", f"/v1/answers/{provenance_id}"))

    def feedback(self, provenance_id: str, rating: str, comment: str | None = None) -> bool:
        """Record thumbs ``up`` or ``down`` (and an optional comment) on an answer."""
        body: dict[str, Any] = {"provenance_id": provenance_id, "rating": rating}
        if comment:
            body["comment"] = comment
        return bool(self._request("POST", "/v1/feedback", json=body).get("recorded", False))

    def upload(
        self,
        files: Sequence[tuple[str, bytes]],
        groups: Sequence[str] = (),
        metadata: Mapping[str, str] | None = None,
    ) -> list[UploadResult]:
        """Upload and ingest ``(file name, content)`` pairs (needs the ``ingest`` role)."""
        data: dict[str, str] = {}
        if groups:
            data["groups"] = ",".join(groups)
        if metadata:
            data["metadata"] = json.dumps(dict(metadata))
        parts = [("files", (name, content)) for name, content in files]
        result = self._request("POST", "/v1/documents", files=parts, data=data)
        return [_pick(UploadResult, f) for f in result.get("files", [])]

    def answer_stream(
        self,
        question: str,
        history: Sequence[Mapping[str, str]] = (),
        filters: Mapping[str, Sequence[str]] | None = None,
        generator: str | None = None,
    ) -> Iterator[StreamEvent]:
        """Stream an answer: a `SourcesEvent`, `DeltaEvent`s, then a `DoneEvent` or an `ErrorEvent`.

        Errors before the stream starts (unreachable, 401, 422, 429, ...) are raised; a failure after it
        started, including a connection cut, ends the iteration with an `ErrorEvent`.
        """
        body: dict[str, Any] = {"question": question, "history": list(history), "stream": True}
        if filters:
            body["filters"] = {k: list(v) for k, v in filters.items() if v}
        if generator:
            body["generator"] = generator
        try:
            with self._http.stream("POST", "/v1/answer", json=body) as response:
                if response.status_code >= 400:
                    raise self._error(response.status_code, response.read())
                try:
                    for line in response.iter_lines():
                        if not line.strip():
                            continue
                        try:
                            event = _event(json.loads(line))
                        except ValueError:
                            event = ErrorEvent("bad_event", "the API sent a line that is not JSON")
                        yield event
                        if isinstance(event, DoneEvent | ErrorEvent):
                            return
                except httpx.TransportError as err:
                    reason = f"the connection to the API broke ({type(err).__name__})"
                    yield ErrorEvent("connection_lost", reason)
                    return
                yield ErrorEvent("stream_cut", "the API closed the stream before the answer was complete")
        except httpx.TransportError as err:
            raise ApiUnreachable(self.base_url, type(err).__name__) from err
