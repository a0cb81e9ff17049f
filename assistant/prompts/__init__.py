"""Prompt templates: text files in this folder, each identified by name and a hash of its content.

A template has a ``### system`` and a ``### user`` part with ``{placeholders}``. Its id, e.g.
``answer-v1@3f2a9c1d``, changes whenever the file changes, so a provenance record names the exact text used.

Sources are fenced as untrusted data: each sits between ``<source n="..">`` and ``</source>`` tags, and any
tag-like text inside a document that could close or open a fence is neutralised first.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from assistant.errors import ConfigError
from assistant.generation.base import Message, Prompt
from assistant.types import Hit

_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
# "<", its full-width and small forms; zero-width characters may hide between the parts of a tag
_FENCE_TAG = re.compile(
    rf"[<\uff1c\ufe64][\s{_INVISIBLE}]*/?[\s{_INVISIBLE}]*s[{_INVISIBLE}]*o[{_INVISIBLE}]*u[{_INVISIBLE}]*"
    rf"r[{_INVISIBLE}]*c[{_INVISIBLE}]*e\b[^>\uff1e\ufe65]*[>\uff1e\ufe65]?",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class Template:
    """A loaded prompt template."""

    name: str
    template_id: str  # name@sha256[:8] of the file
    system: str
    user: str

    def messages(self, **values: str) -> tuple[Message, ...]:
        """The chat messages with ``values`` substituted (other braces are left alone)."""
        return (Message("system", _fill(self.system, values)), Message("user", _fill(self.user, values)))


def _fill(text: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


@lru_cache(maxsize=16)
def load_template(name: str) -> Template:
    """The template ``name`` (e.g. ``answer-v1``) from this package.

    Raises:
        ConfigError: no such template, or it lacks a system or user part.
    """
    if not re.fullmatch(r"[\w.-]+", name):
        raise ConfigError(f"invalid prompt template name {name!r}")
    try:
        raw = resources.files(__package__).joinpath(f"{name}.txt").read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise ConfigError(f"no prompt template {name!r} in assistant/prompts") from err
    parts = re.split(r"^### (system|user)\s*$", raw, flags=re.MULTILINE)
    sections = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    if set(sections) != {"system", "user"}:
        raise ConfigError(f"prompt template {name!r} needs a '### system' and a '### user' part")
    digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:8]
    return Template(name, f"{name}@{digest}", sections["system"], sections["user"])


def neutralise(text: str) -> str:
    """Document text made safe to place inside a source fence (no tag can open or close one)."""
    return _FENCE_TAG.sub(lambda m: "‹" + m.group(0)[1:].replace(">", "›").replace("\uff1e", "›"), text)


def _attr(value: str) -> str:
    return neutralise(value).replace('"', "'").replace("\n", " ")


def format_sources(hits: tuple[Hit, ...] | list[Hit]) -> str:
    """The numbered, fenced sources block."""
    blocks = []
    for n, hit in enumerate(hits, start=1):
        attrs = [f'n="{n}"', f'title="{_attr(hit.document.title)}"']
        if hit.chunk.page is not None:
            attrs.append(f'page="{hit.chunk.page}"')
        if hit.chunk.section:
            attrs.append(f'section="{_attr(hit.chunk.section)}"')
        blocks.append(f"<source {' '.join(attrs)}>\n{neutralise(hit.chunk.text.strip())}\n</source>")
    return "\n\n".join(blocks)


def answer_prompt(template: Template, question: str, hits: tuple[Hit, ...]) -> Prompt:
    """The answer prompt for ``question`` over ``hits`` (numbered from 1 in order)."""
    messages = template.messages(sources=format_sources(hits), question=neutralise(question.strip()))
    return Prompt(template.template_id, messages, question, hits)
