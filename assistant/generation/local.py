"""A GGUF model run in-process by llama-cpp-python (the ``eka[local]`` extra).

The model file comes from :func:`~assistant.generation.gguf.resolve_gguf` (a packaged model assembled once,
or a path). It is loaded on first use and used under a lock: a llama.cpp context is not thread-safe, so
concurrent answers queue, and the wait counts against ``llm_timeout_s``.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.errors import ConfigError, GeneratorError, GeneratorTimeout
from assistant.generation.base import Message, Prompt
from assistant.generation.gguf import GGUF_MODELS, model_sha256, resolve_gguf

__all__ = ["LlamaCppGenerator"]

log = logging.getLogger(__name__)

# Chat-template tokens around each message (Qwen: "<|im_start|>role\n … <|im_end|>\n") and around the whole
# prompt, plus the default system prompt a template adds when there is none; a margin, not an exact count.
_TOKENS_PER_MESSAGE = 8
_TOKENS_PER_PROMPT = 48
_MIN_ANSWER_TOKENS = 32


class LlamaCppGenerator:
    """Streams answers from a local GGUF model.

    Example:
        >>> settings = Settings(generator="local", local_model="qwen2.5-coder-0.5b")
        >>> gen = LlamaCppGenerator(settings)  # doctest: +SKIP
        >>> gen.model_id  # doctest: +SKIP
        'gguf:qwen2.5-coder-0.5b@sha256:1d9614638d18'
        >>> "".join(gen.stream(prompt))  # doctest: +SKIP
        'The pad wear warning triggers at 3.0 mm [1].'
    """

    name = "local"

    def __init__(self, settings: Settings) -> None:
        """Resolve (and if needed assemble) the model file; the model itself loads on first use.

        Raises:
            ConfigError: llama-cpp-python is not installed, or the model cannot be resolved.
        """
        if importlib.util.find_spec("llama_cpp") is None:
            raise ConfigError("the local generator needs llama-cpp-python: pip install 'eka[local]'")
        self.path: Path = resolve_gguf(settings.local_model, settings.home)
        label = settings.local_model if settings.local_model in GGUF_MODELS else self.path.stem
        self.model_id = f"gguf:{label}@sha256:{model_sha256(settings.local_model, self.path)[:12]}"
        self.temperature = settings.llm_temperature
        self.max_tokens = settings.llm_max_tokens
        self.timeout_s = settings.llm_timeout_s
        self.n_ctx = settings.local_context
        self.threads = settings.local_threads
        self._lock = threading.Lock()
        self._llama: Any = None

    def params(self) -> dict[str, Any]:
        """Temperature, max tokens, context window, threads and model file, for provenance."""
        return {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "n_ctx": self.n_ctx,
            "threads": self.threads,
            "model_file": self.path.name,
        }

    def stream(self, prompt: Prompt) -> Iterator[str]:
        """Yield the answer in pieces; GeneratorTimeout once ``llm_timeout_s`` has passed."""
        return self._generate(prompt.messages, self.max_tokens)

    def complete(self, messages: tuple[Message, ...], max_tokens: int = 128) -> str:
        """A short completion, streamed internally so the time limit holds."""
        return "".join(self._generate(messages, max_tokens))

    def load(self) -> None:
        """Load the model now (it is otherwise loaded by the first answer)."""
        with self._lock:
            self._loaded()

    def _generate(self, messages: tuple[Message, ...], max_tokens: int) -> Iterator[str]:
        deadline = time.monotonic() + self.timeout_s
        if not self._lock.acquire(timeout=self.timeout_s):
            raise GeneratorTimeout(f"the local model was busy for {self.timeout_s:g} s; try again later")
        try:
            llama = self._loaded()
            budget = _call(self._answer_budget, llama, messages, max_tokens)
            chunks = _call(
                llama.create_chat_completion,
                messages=[{"role": m.role, "content": m.content} for m in messages],
                stream=True,
                temperature=self.temperature,
                max_tokens=budget,
            )
            try:
                while True:
                    chunk = _call(next, chunks, None)
                    if chunk is None:
                        return
                    if time.monotonic() > deadline:
                        raise GeneratorTimeout(f"the local model did not finish within {self.timeout_s:g} s")
                    text = chunk["choices"][0]["delta"].get("content")
                    if text:
                        yield text
            finally:
                chunks.close()  # stops generation if the caller leaves early
        finally:
            self._lock.release()

    def _loaded(self) -> Any:
        """The llama.cpp model, loaded on first call; the caller holds the lock."""
        if self._llama is None:
            started = time.perf_counter()
            from llama_cpp import Llama

            self._llama = _call(
                Llama,
                model_path=str(self.path),
                n_ctx=self.n_ctx,
                n_threads=self.threads,
                verbose=False,
            )
            log.info("loaded %s in %.1f s", self.path.name, time.perf_counter() - started)
        return self._llama

    def _answer_budget(self, llama: Any, messages: tuple[Message, ...], max_tokens: int) -> int:
        """Tokens left for the answer; a GeneratorError if the prompt leaves too few."""
        prompt_tokens = _TOKENS_PER_PROMPT + sum(
            _TOKENS_PER_MESSAGE + len(llama.tokenize(m.content.encode(), add_bos=False)) for m in messages
        )
        room = self.n_ctx - prompt_tokens
        if room < min(max_tokens, _MIN_ANSWER_TOKENS):
            raise GeneratorError(
                f"the question and its sources take about {prompt_tokens} tokens, too many for the local "
                f"model's {self.n_ctx}-token context: use fewer sources (EKA_ANSWER_K) or a larger "
                f"EKA_LOCAL_CONTEXT"
            )
        if room < max_tokens:
            log.info("answer budget cut from %d to %d tokens to fit the context", max_tokens, room)
        return min(max_tokens, room)


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call into llama.cpp, turning its failures into a GeneratorError with a short, safe reason."""
    try:
        return fn(*args, **kwargs)
    except GeneratorError:
        raise
    except Exception as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise GeneratorError(f"the local model failed: {reason}") from err
