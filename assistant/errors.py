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
    """The answer generator failed or timed out."""


class IndexCorrupt(EkaError):
    """A derived index file is missing, unreadable or does not match the store."""
