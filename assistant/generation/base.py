"""The ``Generator`` seam: turns a rendered prompt (numbered, fenced sources plus the question) into text.

Three implementations, chosen by ``EKA_GENERATOR``:

- ``extractive`` (default, no LLM): picks the best-supported sentences of the sources (``extractive.py``);
- ``local``: a GGUF model served by llama.cpp in a supervised child process (``local.py``,
  ``llama_server.py``; the ``eka[local]`` extra), so a crash of the model never takes eka down;
- ``openai``: any OpenAI-compatible endpoint through langchain-openai (``openai_compat.py``).

A generator streams text pieces; it raises :class:`~assistant.errors.GeneratorError` (or its subclass
:class:`~assistant.errors.GeneratorTimeout`) with a message that is safe to show a client, and
:class:`~assistant.errors.GeneratorUnavailable` when it cannot answer at all (a 503, with what would fix it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from assistant.types import Hit


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message."""

    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True, slots=True)
class Prompt:
    """A rendered prompt: the chat messages for an LLM, plus the parts an extractive generator reads.

    ``sources[i]`` is the hit numbered ``[i + 1]`` in the messages.
    """

    template_id: str
    messages: tuple[Message, ...]
    question: str
    sources: tuple[Hit, ...]


@dataclass(frozen=True, slots=True)
class Availability:
    """Whether a generator can answer now; if not, why (``reason``) and what would fix it (``install``)."""

    available: bool
    reason: str | None = None
    install: str | None = None


AVAILABLE = Availability(True)


class Generator(Protocol):
    """Streams the answer to a prompt.

    Example:
        >>> "".join(generator.stream(prompt))  # doctest: +SKIP
        'The pad wear warning triggers at 3.0 mm [1].'
    """

    name: str  # "extractive" | "local" | "openai"
    model_id: str  # what produced the text, e.g. a GGUF sha256 or an endpoint's model name

    def params(self) -> dict[str, Any]:
        """The generation parameters recorded in provenance (temperature, max tokens, ...)."""
        ...

    def stream(self, prompt: Prompt) -> Iterator[str]:
        """Yield the answer text in pieces; raise GeneratorError/GeneratorTimeout on failure."""
        ...

    def complete(self, messages: tuple[Message, ...], max_tokens: int = 128) -> str:
        """A short non-streamed completion (used to rewrite follow-up questions)."""
        ...

    def availability(self) -> Availability:
        """What is known now about whether this generator can answer (no I/O)."""
        ...

    def prepare(self) -> None:
        """Get ready to answer (load a model, start its process, reach an endpoint).

        Raises:
            GeneratorUnavailable: it cannot answer; :meth:`availability` then says why.
        """
        ...

    def close(self) -> None:
        """Release what the generator holds (a child process, connections)."""
        ...
