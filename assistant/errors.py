"""The library's error tree; the CLI and API map these to clean messages and status codes."""

from __future__ import annotations


class EkaError(Exception):
    """Base class of every error eka raises on purpose."""


class ConfigError(EkaError):
    """Settings are missing or inconsistent."""


class IngestError(EkaError):
    """One file could not be ingested; ``reason`` is a one-line message for the report."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class NotFound(EkaError):
    """An id or source that does not exist (or that the caller may not see)."""


class AccessDenied(EkaError):
    """The caller lacks a role the operation needs."""


class GeneratorError(EkaError):
    """The answer generator failed; the message is safe to show a client (no secrets, no stack)."""

    provenance_id: str | None = None  # set once the failed attempt has been recorded


class GeneratorTimeout(GeneratorError):
    """The answer generator did not answer in time."""


class GeneratorUnavailable(GeneratorError):
    """The generator cannot answer at all (missing package or model, endpoint unreachable); a 503.

    ``install`` is the command or setting that would make it available, if there is one.
    """

    def __init__(self, message: str, install: str | None = None) -> None:
        super().__init__(f"{message}: {install}" if install else message)
        self.reason = message
        self.install = install


class RateLimited(EkaError):
    """The caller sent too many requests; ``retry_after`` is in seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unauthenticated(EkaError):
    """No credentials, or credentials that match no active API key."""


class IndexCorrupt(EkaError):
    """A derived index file is missing, unreadable or does not match the store."""


class InvalidInput(EkaError):
    """A value the library cannot accept (a 400), such as an unknown rating or text holding a NUL."""
