"""Chooses the answer generator named by ``EKA_GENERATOR``; each is imported only when chosen."""

from __future__ import annotations

from assistant.config import Settings
from assistant.embedding import Embedder
from assistant.errors import ConfigError
from assistant.generation.base import Generator

__all__ = ["make_generator"]


def make_generator(settings: Settings, embedder: Embedder) -> Generator:
    """The generator for ``settings.generator``: ``extractive``, ``local`` or ``openai``.

    Args:
        settings: eka's settings; the generator reads its own fields (``llm_*``, ``local_*``, ``openai_*``).
        embedder: the embedder the extractive generator scores sentences with.

    Raises:
        ConfigError: an unknown generator name, or a generator whose requirements are missing.

    Example:
        >>> make_generator(Settings(generator="extractive"), embedder).name  # doctest: +SKIP
        'extractive'
    """
    if settings.generator == "extractive":
        from assistant.generation.extractive import ExtractiveGenerator

        return ExtractiveGenerator(embedder, settings)
    if settings.generator == "local":
        from assistant.generation.local import LlamaCppGenerator

        return LlamaCppGenerator(settings)
    if settings.generator == "openai":
        from assistant.generation.openai_compat import OpenAICompatGenerator

        return OpenAICompatGenerator(settings)
    raise ConfigError(f"unknown generator {settings.generator!r}: use extractive, local or openai")
