"""Turning answer events into NDJSON lines (``/v1/answer``) and SSE chunks (``/v1/chat/completions``)."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Generator, Iterator
from contextlib import closing
from typing import Any

import anyio
from starlette.concurrency import iterate_in_threadpool

from assistant.answering import DeltaEvent, DoneEvent, Event, SourcesEvent
from assistant.api.schemas import AnswerResponse, HitOut
from assistant.errors import EkaError, GeneratorError, GeneratorTimeout, GeneratorUnavailable
from assistant.types import Hit

log = logging.getLogger(__name__)


# Most specific first, as the API's exception handlers map them (assistant/api/app.py).
_GENERATOR_ERRORS: tuple[tuple[type[GeneratorError], str, int], ...] = (
    (GeneratorUnavailable, "generator_unavailable", 503),
    (GeneratorTimeout, "generator_timeout", 504),
    (GeneratorError, "generator_failed", 502),
)


def error_event(err: Exception) -> dict[str, Any]:
    """The last event of a stream that failed; the message is safe to show."""
    for kind, code, status in _GENERATOR_ERRORS:
        if isinstance(err, kind):
            detail = {"type": "error", "error": code, "detail": str(err), "status": status}
            return {**detail, "provenance_id": err.provenance_id}
    if isinstance(err, EkaError):
        return {"type": "error", "error": "failed", "detail": str(err), "status": 400}
    log.exception("answer stream failed", exc_info=err)
    return {
        "type": "error",
        "error": "internal",
        "detail": "the answer failed; see the server log",
        "status": 500,
    }


def safe_events(events: Iterator[Event]) -> Generator[Event | dict[str, Any], None, None]:
    """``events``, ending with an error event instead of an exception."""
    try:
        yield from events  # closing this generator closes ``events`` too
    except Exception as err:  # every failure becomes an error event, never a cut stream
        yield error_event(err)


async def closing_body(chunks: Generator[bytes, None, None]) -> AsyncIterator[bytes]:
    """A streamed response body: ``chunks`` pulled in worker threads, and closed however the response ends.

    Starlette abandons a synchronous body when the client disconnects, leaving it to the garbage collector.
    Closing it at once runs the answer's own cleanup, which records the abandoned answer (answering.py).
    """
    try:
        async for chunk in iterate_in_threadpool(chunks):
            yield chunk
    finally:
        # A worker thread is never still inside ``chunks`` here: a cancelled ``run_sync`` waits for it.
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(chunks.close)


def ndjson(events: Iterator[Event]) -> Generator[bytes, None, None]:
    """NDJSON lines: ``sources``, ``delta``..., then ``done`` or ``error``."""
    with closing(safe_events(events)) as safe:
        yield from _ndjson_lines(safe)


def _ndjson_lines(events: Iterator[Event | dict[str, Any]]) -> Iterator[bytes]:
    for event in events:
        if isinstance(event, SourcesEvent):
            body: dict[str, Any] = {
                "type": "sources",
                "rewritten_query": event.query,
                "sources": [HitOut.of(h).model_dump() for h in event.hits],
            }
        elif isinstance(event, DeltaEvent):
            body = {"type": "delta", "text": event.text}
        elif isinstance(event, DoneEvent):
            # The sources again, in the answer's numbering (markers are renumbered 1..n in reading order).
            body = {"type": "done", **AnswerResponse.of(event.result).model_dump()}
        else:
            body = event
        yield (json.dumps(body, ensure_ascii=False) + "\n").encode("utf-8")


def sources_footer(hits: tuple[Hit, ...] | list[Hit], cited: set[int]) -> str:
    """The numbered sources list appended to chat-completion content."""
    lines = []
    for n, hit in enumerate(hits, start=1):
        if cited and n not in cited:
            continue
        where = f", page {hit.chunk.page}" if hit.chunk.page is not None else ""
        lines.append(f"[{n}] {hit.document.title}{where} ({hit.document.source})")
    return "\n\nSources:\n" + "\n".join(lines) if lines else ""


def _chunk(
    completion_id: str,
    created: int,
    delta: dict[str, Any],
    finish: str | None = None,
    extra: dict[str, Any] | None = None,
) -> bytes:
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": "eka",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if extra:
        body["eka"] = extra
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n".encode()


def sse(events: Iterator[Event]) -> Generator[bytes, None, None]:
    """OpenAI chat-completion chunks as server-sent events, ending with ``data: [DONE]``."""
    with closing(safe_events(events)) as safe:
        yield from _sse_chunks(safe)


def _sse_chunks(events: Iterator[Event | dict[str, Any]]) -> Iterator[bytes]:
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    yield _chunk(completion_id, created, {"role": "assistant", "content": ""})
    for event in events:
        if isinstance(event, SourcesEvent):
            continue
        if isinstance(event, DeltaEvent):
            yield _chunk(completion_id, created, {"content": event.text})
        elif isinstance(event, DoneEvent):
            result = event.result
            footer = sources_footer(
                result.hits, {c.marker for c in result.citations} if not result.refused else set()
            )
            if footer:
                yield _chunk(completion_id, created, {"content": footer})
            yield _chunk(completion_id, created, {}, "stop", AnswerResponse.of(result).model_dump())
        else:
            yield _chunk(completion_id, created, {}, "error", event)
    yield b"data: [DONE]\n\n"


def collect(events: Iterator[Event]) -> DoneEvent:
    """Run a stream to its end; raises what the stream raised."""
    for event in events:
        if isinstance(event, DoneEvent):
            return event
    raise GeneratorError("the answer ended without a result")
