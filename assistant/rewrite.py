"""Multi-turn: a follow-up question is rewritten into a standalone query before retrieval.

With an LLM generator the model rewrites it (template ``rewrite-v1``); otherwise, or if the model fails, a
rule adds the content words of the previous questions when the follow-up leans on them (a pronoun, "what
about ...", or too few words of its own to search with).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from assistant.citations import content_words
from assistant.errors import GeneratorError
from assistant.generation.base import Generator, Message
from assistant.prompts import load_template, neutralise

log = logging.getLogger(__name__)

_ANAPHORA = re.compile(
    r"\b(it|its|this|that|these|those|they|them|their|there|same|above|former|latter|one|ones)\b"
    r"|^\s*(and|also|what about|how about|and what|what else|why|how so)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W_]+(?:[-./][^\W_]+)*")


def needs_context(question: str) -> bool:
    """Whether a question probably cannot be understood without the conversation before it."""
    return bool(_ANAPHORA.search(question)) or len(content_words(question)) <= 2


def rule_rewrite(question: str, history: Sequence[Message]) -> str:
    """The question plus the new content words of the previous user questions (most recent first).

    Example:
        >>> rule_rewrite("What about the rear axle?", [Message("user", "Brake pad wear limit, front axle?")])
        'What about the rear axle? (Brake pad wear limit front)'
    """
    if not needs_context(question):
        return question
    have = content_words(question)
    extra: list[str] = []
    for message in reversed([m for m in history if m.role == "user"][-2:]):
        for word in _WORD.findall(message.content):
            stems = content_words(word)
            if stems and not stems <= have:
                extra.append(word)
                have |= stems
    return f"{question} ({' '.join(extra)})" if extra else question


def rewrite(
    question: str, history: Sequence[Message], generator: Generator | None, max_turns: int = 6
) -> tuple[str, str]:
    """The standalone query for ``question`` and how it was made: ``none``, ``rule`` or ``llm``."""
    if not any(m.role == "user" for m in history):
        return question, "none"
    if generator is not None and generator.name != "extractive":
        template = load_template("rewrite-v1")
        transcript = "\n".join(
            f"{m.role}: {neutralise(' '.join(m.content.split())[:600])}" for m in history[-max_turns:]
        )
        try:
            text = generator.complete(template.messages(history=transcript, question=question), 96)
        except GeneratorError as err:
            log.warning("query rewrite by the LLM failed (%s); using the rule", err)
        else:
            line = " ".join(text.strip().strip('"').split())
            if 3 <= len(line) <= 400:
                return line, "llm"
    rewritten = rule_rewrite(question, history)
    return rewritten, "rule" if rewritten != question else "none"
