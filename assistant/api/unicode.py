"""Rejects JSON request bodies that hold a lone UTF-16 surrogate, before any route sees them.

``json.loads`` accepts ``"\\ud800"`` (and UTF-8-encoded surrogate bytes) and yields a ``str`` that cannot be
encoded again: without this check such text reaches the store, the audit log or a response, fails there, and
the client gets a 500 or a reset connection instead of a 422.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A surrogate escape, or the UTF-8 bytes of a surrogate: only bodies holding one are parsed here.
_SUSPECT = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}|\xed[\xa0-\xbf]")

DETAIL = "the request holds a lone UTF-16 surrogate (such as \\ud800), which is not valid Unicode text"


def has_lone_surrogate(body: bytes) -> bool:
    """Whether a JSON body holds a string (key or value) with an unpaired surrogate; False if not JSON."""
    if not _SUSPECT.search(body):
        return False
    try:
        value = json.loads(body)
    except ValueError:  # not JSON: the route's own validation answers
        return False
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and not is_valid_text(item):
            return True
    return False


def is_valid_text(text: str) -> bool:
    """Whether ``text`` can be encoded as UTF-8 (it holds no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the already-read body once, then waits on the real one (for disconnects)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


class ValidUnicode:
    """ASGI middleware: a JSON body with a lone surrogate gets a 422 ``invalid_request``.

    Runs inside the body-size limit, so the body it reads is bounded. Bodies that are not JSON (uploads) pass
    through untouched; FastAPI parses a body without a content type as JSON, so those are checked too.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        content_type = dict(scope.get("headers", [])).get(b"content-type", b"").lower()
        if scope["type"] != "http" or (content_type and b"json" not in content_type):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if has_lone_surrogate(body):
            response = JSONResponse({"error": "invalid_request", "detail": DETAIL}, status_code=422)
            await response(scope, receive, send)
            return
        await self.app(scope, replay(body, receive), send)
