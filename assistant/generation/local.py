"""A local GGUF model served by llama.cpp in a supervised child process (the ``eka[local]`` extra).

The model file comes from :func:`~assistant.generation.gguf.resolve_gguf` (a packaged model assembled once,
or a path). :class:`~assistant.generation.llama_server.LlamaServer` runs llama-cpp-python's
OpenAI-compatible server on loopback, and the answer is streamed from it with the ``openai`` generator's
client. If the model process crashes, the answer in flight ends with a
:class:`~assistant.errors.GeneratorError` (502) that says so, and the next answer starts a new process; if it
hangs past ``llm_timeout_s``, it is killed and the answer ends with a
:class:`~assistant.errors.GeneratorTimeout` (504). The API process itself never runs llama.cpp code.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from assistant.config import Settings
from assistant.errors import ConfigError, GeneratorError, GeneratorTimeout, GeneratorUnavailable
from assistant.generation.base import AVAILABLE, Availability, Message, Prompt
from assistant.generation.gguf import GGUF_MODELS, model_sha256, resolve_gguf
from assistant.generation.llama_server import LlamaServer
from assistant.generation.openai_compat import OpenAICompatGenerator

__all__ = ["INSTALL_LLM", "LocalGenerator"]

log = logging.getLogger(__name__)

INSTALL_LLM = "make install-llm"
# Chat-template tokens around each message (Qwen: "<|im_start|>role\n … <|im_end|>\n") and around the whole
# prompt, plus the default system prompt a template adds when there is none; a margin, not an exact count.
_TOKENS_PER_MESSAGE = 8
_TOKENS_PER_PROMPT = 48
_MIN_ANSWER_TOKENS = 32


class LocalGenerator:
    """Streams answers from a local GGUF model running in a child process.

    Example:
        >>> settings = Settings(generator="local", local_model="qwen2.5-coder-0.5b")
        >>> gen = LocalGenerator(settings)  # doctest: +SKIP
        >>> gen.model_id  # doctest: +SKIP
        'gguf:qwen2.5-coder-0.5b@sha256:1d9614638d18'
        >>> "".join(gen.stream(prompt))  # doctest: +SKIP
        'The pad wear warning triggers at 3.0 mm [1].'
    """

    name = "local"

    def __init__(self, settings: Settings) -> None:
        """Resolve (and if needed assemble) the model file; the model process starts on first use.

        Raises:
            GeneratorUnavailable: llama-cpp-python's server is not installed, or the model cannot be resolved.
        """
        if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("uvicorn") is None:
            raise GeneratorUnavailable("the local generator needs llama-cpp-python[server]", INSTALL_LLM)
        try:
            self.path: Path = resolve_gguf(settings.local_model, settings.home)
        except ConfigError as err:
            raise GeneratorUnavailable(str(err)) from err
        label = settings.local_model if settings.local_model in GGUF_MODELS else self.path.stem
        self.model_id = f"gguf:{label}@sha256:{model_sha256(settings.local_model, self.path)[:12]}"
        self.settings = settings
        self.temperature = settings.llm_temperature
        self.max_tokens = settings.llm_max_tokens
        self.timeout_s = settings.llm_timeout_s
        self.n_ctx = settings.local_context
        self.threads = settings.local_threads
        self.server = LlamaServer(
            self.path,
            n_ctx=self.n_ctx,
            threads=self.threads,
            log_path=settings.home / "logs" / "llama-server.log",
            start_timeout_s=settings.local_start_timeout_s,
        )
        self._client: OpenAICompatGenerator | None = None
        self._lock = threading.Lock()

    def params(self) -> dict[str, Any]:
        """Temperature, max tokens, context window, threads and model file, for provenance."""
        return {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "n_ctx": self.n_ctx,
            "threads": self.threads,
            "model_file": self.path.name,
        }

    def availability(self) -> Availability:
        """Available unless the model process failed to start within the last few seconds."""
        failed = self.server.last_failure()
        if failed is None:
            return AVAILABLE
        return Availability(False, failed, f"see {self.server.log_path}")

    def prepare(self) -> None:
        """Start the model process now (it is otherwise started by the first answer)."""
        self._endpoint()

    def close(self) -> None:
        """Stop the model process."""
        self.server.stop()

    def stream(self, prompt: Prompt) -> Iterator[str]:
        """Yield the answer in pieces; GeneratorTimeout once ``llm_timeout_s`` has passed."""
        return self._generate(prompt.messages, self.max_tokens)

    def complete(self, messages: tuple[Message, ...], max_tokens: int = 128) -> str:
        """A short completion, streamed internally so the time limit holds."""
        return "".join(self._generate(messages, max_tokens))

    def _endpoint(self) -> OpenAICompatGenerator:
        """A client of the running model process, starting (or restarting) the process when needed."""
        url = self.server.ensure()
        with self._lock:
            if self._client is None or self._client.endpoint != url:
                settings = self.settings.model_copy(
                    update={
                        "openai_base_url": url,
                        "openai_api_key": self.server.api_key,
                        "openai_model": "local",
                        "azure_endpoint": None,
                    }
                )
                self._client = OpenAICompatGenerator(settings)
                self._client.fix = (
                    f"the local model process restarts for the next question; see {self.server.log_path}"
                )
            return self._client

    def _generate(self, messages: tuple[Message, ...], max_tokens: int) -> Iterator[str]:
        client = self._endpoint()
        pid = self.server.pid
        try:
            budget = self._answer_budget(client, messages, max_tokens)
            yield from client.generate(messages, budget)
        except GeneratorTimeout as err:
            log.warning("the local model process (pid %s) timed out; killing it", pid)
            self.server.kill()
            raise GeneratorTimeout(
                f"the local model did not finish within {self.timeout_s:g} s; it was stopped and starts "
                "again for the next question"
            ) from err
        except GeneratorError as err:
            status = self.server.exit_status()
            if status is None:
                raise
            log.error("the local model process (pid %s) ended during an answer (%s)", pid, status)
            raise GeneratorError(
                f"the local model process stopped during the answer ({status}); it starts again for the next "
                f"question (log: {self.server.log_path.name})"
            ) from err

    def _answer_budget(
        self, client: OpenAICompatGenerator, messages: tuple[Message, ...], max_tokens: int
    ) -> int:
        """Tokens left for the answer; a GeneratorError if the prompt leaves too few."""
        prompt_tokens = _TOKENS_PER_PROMPT + len(messages) * _TOKENS_PER_MESSAGE
        prompt_tokens += self._count_tokens("\n".join(m.content for m in messages))
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

    def _count_tokens(self, text: str) -> int:
        """Tokens of ``text`` by the model's own tokenizer (the server's ``/extras/tokenize/count``)."""
        base = self.server.url.removesuffix("/v1")
        try:
            response = httpx.post(
                f"{base}/extras/tokenize/count",
                json={"input": text},
                headers={"Authorization": f"Bearer {self.server.api_key}"},
                timeout=self.timeout_s,
            )
            response.raise_for_status()
            return int(response.json()["count"])
        except httpx.TimeoutException as err:
            raise GeneratorTimeout(f"the local model did not answer within {self.timeout_s:g} s") from err
        except (httpx.HTTPError, KeyError, ValueError, TypeError) as err:
            raise GeneratorError(f"the local model could not count tokens ({type(err).__name__})") from err
