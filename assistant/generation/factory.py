"""Chooses the answer generator named by ``EKA_GENERATOR``; each is imported only when chosen.

A generator that cannot be built (its packages or model are missing) becomes an :class:`Unavailable` one
when asked for with ``degrade=True`` (the API does this), so the service starts, lists it with the reason and
the fix, and answers 503 when it is asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from assistant.config import Settings
from assistant.embedding import Embedder
from assistant.errors import ConfigError, GeneratorUnavailable
from assistant.generation.base import Availability, Generator, Message, Prompt

__all__ = ["Unavailable", "make_generator"]

GENERATORS = ("extractive", "local", "openai")


class Unavailable:
    """Stands in for a generator that could not be built; every answer is a GeneratorUnavailable (503)."""

    def __init__(self, name: str, reason: str, install: str | None = None) -> None:
        self.name = name
        self.model_id = f"{name}:unavailable"
        self.reason = reason
        self.install = install

    def params(self) -> dict[str, Any]:
        """No parameters: nothing runs."""
        return {}

    def availability(self) -> Availability:
        """Never available."""
        return Availability(False, self.reason, self.install)

    def prepare(self) -> None:
        """Always raises: there is nothing to prepare."""
        raise GeneratorUnavailable(self.reason, self.install)

    def stream(self, prompt: Prompt) -> Iterator[str]:
        """Always raises GeneratorUnavailable."""
        raise GeneratorUnavailable(self.reason, self.install)

    def complete(self, messages: tuple[Message, ...], max_tokens: int = 128) -> str:
        """Always raises GeneratorUnavailable."""
        raise GeneratorUnavailable(self.reason, self.install)

    def close(self) -> None:
        """Nothing to release."""


def make_generator(settings: Settings, embedder: Embedder, *, degrade: bool = False) -> Generator:
    """The generator for ``settings.generator``: ``extractive``, ``local`` or ``openai``.

    Args:
        settings: eka's settings; the generator reads its own fields (``llm_*``, ``local_*``, ``openai_*``).
        embedder: the embedder the extractive generator scores sentences with.
        degrade: return an :class:`Unavailable` generator instead of raising when requirements are missing.

    Raises:
        ConfigError: an unknown generator name.
        GeneratorUnavailable: a generator whose requirements are missing (unless ``degrade``).

    Example:
        >>> make_generator(Settings(generator="extractive"), embedder).name  # doctest: +SKIP
        'extractive'
    """
    if settings.generator not in GENERATORS:
        raise ConfigError(f"unknown generator {settings.generator!r}: use extractive, local or openai")
    try:
        return _build(settings, embedder)
    except GeneratorUnavailable as err:
        if not degrade:
            raise
        return Unavailable(settings.generator, err.reason, err.install)


def _build(settings: Settings, embedder: Embedder) -> Generator:
    if settings.generator == "extractive":
        from assistant.generation.extractive import ExtractiveGenerator

        return ExtractiveGenerator(embedder, settings)
    if settings.generator == "local":
        from assistant.generation.local import LocalGenerator

        return LocalGenerator(settings)
    from assistant.generation.openai_compat import OpenAICompatGenerator

    return OpenAICompatGenerator(settings)
