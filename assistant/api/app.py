"""The FastAPI application: lifespan (build everything heavy once), error mapping, limits and routes.

Every error a client can cause maps to a 4xx with a JSON body ``{"error": ..., "detail": ...}``; generator
failures map to 502/504 with a safe message; an unreachable PostgreSQL database maps to 503 (the process stays
up and serves again once the database is back). A 500 means a bug.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import version as package_version
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from assistant.answering import AnswerService
from assistant.api import routes_answers, routes_chat, routes_documents
from assistant.api.deps import Services, ServicesDep, Uploader
from assistant.api.docs import add_offline_docs
from assistant.api.unicode import ValidUnicode, replay
from assistant.app import Assistant, build_assistant
from assistant.config import Settings
from assistant.errors import (
    AccessDenied,
    ConfigError,
    EkaError,
    GeneratorError,
    GeneratorTimeout,
    GeneratorUnavailable,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from assistant.filters import FilterError
from assistant.generation.base import Generator
from assistant.pg.store import PgStore
from assistant.services import open_audit, open_keys, open_limiter, open_originals
from assistant.types import Principal

log = logging.getLogger(__name__)

VERSION = package_version("eka")

# (settings, assistant) -> generators by name; the first is the default
GeneratorFactory = Callable[[Settings, Assistant], dict[str, Generator]]


def default_generators(settings: Settings, assistant: Assistant) -> dict[str, Generator]:
    """The configured generator first, plus the extractive one (always offered: it needs no LLM).

    A configured generator whose packages or model are missing is still listed, as unavailable (503).
    """
    from assistant.generation.extractive import ExtractiveGenerator
    from assistant.generation.factory import make_generator

    extractive: Generator = ExtractiveGenerator(assistant.embedder, settings)
    if settings.generator == "extractive":
        return {"extractive": extractive}
    configured = make_generator(settings, assistant.embedder, degrade=True)
    return {settings.generator: configured, "extractive": extractive}


def _error(status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    # A detail may quote client input; one that cannot be encoded must not turn the answer into a 500.
    detail = detail.encode("utf-8", "replace").decode("utf-8")
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


_STATUS: list[tuple[type[EkaError], int, str]] = [
    (Unauthenticated, 401, "unauthenticated"),
    (AccessDenied, 403, "forbidden"),
    (NotFound, 404, "not_found"),
    (RateLimited, 429, "rate_limited"),
    (FilterError, 422, "invalid_filter"),
    (GeneratorUnavailable, 503, "generator_unavailable"),
    (GeneratorTimeout, 504, "generator_timeout"),
    (GeneratorError, 502, "generator_failed"),
    (ConfigError, 503, "misconfigured"),
]


def _eka_error(request: Request, err: Exception) -> JSONResponse:
    for kind, status, code in _STATUS:
        if isinstance(err, kind):
            headers = None
            if isinstance(err, Unauthenticated):
                headers = {"WWW-Authenticate": "Bearer"}
            elif isinstance(err, RateLimited):
                headers = {"Retry-After": str(max(1, round(err.retry_after)))}
            return _error(status, code, str(err), headers)
    return _error(400, "bad_request", str(err))


def _validation_error(request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, RequestValidationError)
    problems = []
    for item in err.errors():
        where = ".".join(str(p) for p in item.get("loc", ()) if p != "body") or "body"
        problems.append(f"{where}: {item.get('msg', 'invalid')}")
    return _error(422, "invalid_request", "; ".join(problems) or "invalid request")


def _http_error(request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, StarletteHTTPException)
    codes = {
        404: "not_found",
        405: "method_not_allowed",
        413: "too_large",
        415: "unsupported_type",
        422: "invalid_request",
        501: "not_implemented",
    }
    headers = dict(err.headers) if err.headers else None
    return _error(err.status_code, codes.get(err.status_code, "error"), str(err.detail), headers)


# Seconds a client is asked to wait (Retry-After) when the database cannot be reached.
DATABASE_RETRY_S = 5


def _database_unavailable(request: Request, err: Exception) -> JSONResponse:
    """The PostgreSQL server is down or unreachable (a lost connection, no pooled connection in time): 503,
    without the driver's message (it names hosts and users)."""
    log.warning(
        "database unavailable on %s %s: %s: %s", request.method, request.url.path, type(err).__name__, err
    )
    return _error(
        503,
        "database_unavailable",
        "the database cannot be reached; try again shortly",
        {"Retry-After": str(DATABASE_RETRY_S)},
    )


def _unexpected(request: Request, err: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=err)
    return _error(500, "internal", "internal error; see the server log")


class BodyLimit:
    """Rejects request bodies over ``limit`` bytes with 413, by Content-Length or while streaming in."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > self.limit
            except ValueError:
                too_big = False
            if too_big:
                await _error(413, "too_large", f"request body is larger than {self.limit} bytes")(
                    scope, receive, send
                )
                return
            await self.app(scope, receive, send)  # the server stops at Content-Length bytes
            return
        # No Content-Length (a chunked body): read it here, up to the limit, then hand it on.
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.limit:
                await _error(413, "too_large", f"request body is larger than {self.limit} bytes")(
                    scope, receive, send
                )
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, replay(b"".join(chunks), receive), send)


def build_services(
    settings: Settings,
    uploader: Uploader | None = None,
    generators: GeneratorFactory = default_generators,
) -> Services:
    """Build every heavy object once: store, model, indexes, generators, key store and audit log."""
    assistant = build_assistant(settings)
    audit = open_audit(settings)
    made = generators(settings, assistant)
    answerers = {
        name: AnswerService(
            settings, assistant.store, assistant.retriever, generator, audit, assistant.spec.model_id
        )
        for name, generator in made.items()
    }
    return Services(
        assistant=assistant,
        keys=open_keys(settings),
        audit=audit,
        answerers=answerers,
        default_generator=next(iter(made)),
        limiter=open_limiter(settings),
        originals=open_originals(settings),
        uploader=uploader,
    )


def warm_up(svc: Services) -> None:
    """Load the embedding model and the indexes, and run one search, before declaring readiness."""
    svc.assistant.embedder.model()
    svc.assistant.searcher.refresh()
    svc.assistant.retriever.search("warm up", Principal.of("eka-warmup"), k=1)
    for name, answerer in svc.answerers.items():
        try:  # start a model process or reach an endpoint now, not on the first question
            answerer.generator.prepare()
        except GeneratorUnavailable as err:  # listed as unavailable; the other generators still answer
            log.warning("generator %s is unavailable: %s", name, err)
    svc.ready = True


def create_app(
    settings: Settings | None = None,
    uploader: Uploader | None = None,
    generators: GeneratorFactory = default_generators,
) -> FastAPI:
    """The ASGI app. Heavy objects are built in its lifespan, once per process.

    Example:
        >>> app = create_app(Settings(home=Path(".eka")))  # doctest: +SKIP
        >>> uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = build_services(settings, uploader, generators)
        app.state.services = svc
        try:
            warm_up(svc)
            yield
        finally:
            svc.close()

    app = FastAPI(
        title="eka",
        version=VERSION,
        description="Engineering knowledge assistant: search and cited answers over the documents you may "
        "read. Authenticate with `Authorization: Bearer <API key>` (`eka keys create`).",
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc are served from local assets (assistant/api/docs.py)
        redoc_url=None,
    )
    add_offline_docs(app)
    app.add_middleware(ValidUnicode)  # added first, so it runs inside the body limit
    app.add_middleware(BodyLimit, limit=int(settings.api_max_body_mb * 1024 * 1024))
    app.add_exception_handler(EkaError, _eka_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(psycopg.OperationalError, _database_unavailable)
    app.add_exception_handler(PoolTimeout, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected)

    @app.get("/healthz", summary="The process is alive")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        summary="The model and indexes are loaded and the database answers (status and backend only; counts "
        "are at /v1/stats, with a key)",
        responses={503: {"description": "Not yet, or the database cannot be reached"}},
    )
    def readyz(svc: ServicesDep) -> Any:
        if not svc.ready:
            return _error(503, "not_ready", "still loading the model and indexes")
        store = svc.assistant.store
        if isinstance(store, PgStore):
            try:
                store.db.ping()
            except (psycopg.Error, PoolTimeout) as err:
                log.warning("not ready: database unavailable: %s: %s", type(err).__name__, err)
                return _error(
                    503,
                    "database_unavailable",
                    "the database cannot be reached",
                    {"Retry-After": str(DATABASE_RETRY_S)},
                )
            return {"status": "ready", "backend": "postgres"}
        return {"status": "ready", "backend": "embedded"}

    app.include_router(routes_answers.router, tags=["answers"])
    app.include_router(routes_chat.router, tags=["openai"])
    app.include_router(routes_documents.router, tags=["documents"])
    return app
