"""What every request handler needs: the services built once at start-up, and the authenticated caller."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from assistant.answering import AnswerService
from assistant.app import Assistant
from assistant.audit import AuditLog
from assistant.errors import AccessDenied, Unauthenticated
from assistant.keys import ApiKey, KeyStore
from assistant.originals import Originals
from assistant.ratelimit import RateLimiter
from assistant.types import Principal

# (assistant, saved file, source name, access groups, metadata, uploader's user name) -> results per file
# (UploadFileResult fields). The ingest pipeline lives outside the library (dependencies point one way), so
# `eka serve` passes it in.
Uploader = Callable[[Assistant, Path, str, list[str], dict[str, str], str], list[dict[str, Any]]]


@dataclass
class Services:
    """Everything heavy, built once in the app's lifespan."""

    assistant: Assistant
    keys: KeyStore
    audit: AuditLog
    answerers: dict[str, AnswerService]
    default_generator: str
    limiter: RateLimiter
    originals: Originals
    uploader: Uploader | None = None
    ready: bool = False
    started: float = field(default_factory=time.time)

    def close(self) -> None:
        for answerer in self.answerers.values():
            answerer.generator.close()
        self.keys.close()
        self.audit.close()
        self.limiter.close()
        self.assistant.close()


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated API key behind a request."""

    key: ApiKey

    @property
    def principal(self) -> Principal:
        return self.key.principal

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(self.key.roles)

    def require(self, role: str) -> None:
        """Raise AccessDenied (403) unless the key has ``role``."""
        if role not in self.key.roles:
            raise AccessDenied(f"this API key lacks the {role!r} role")


def services(request: Request) -> Services:
    value: Services = request.app.state.services
    return value


_bearer = HTTPBearer(auto_error=False, description="An API key from `eka keys create`.")


def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The caller of an authenticated endpoint: 401 without a valid key, 429 past the key's rate limit."""
    if credentials is None or not credentials.credentials:
        raise Unauthenticated("missing API key: send 'Authorization: Bearer <key>'")
    svc = services(request)
    key = svc.keys.authenticate(credentials.credentials.strip())
    if key is None:
        raise Unauthenticated("invalid or revoked API key")
    svc.limiter.take(key.key_id)
    return Caller(key)


ServicesDep = Annotated[Services, Depends(services)]
CallerDep = Annotated[Caller, Depends(caller)]
