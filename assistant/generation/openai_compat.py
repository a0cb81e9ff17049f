"""Any OpenAI-compatible chat endpoint (OpenAI, Azure, vLLM, llama.cpp's server, ...) via langchain-openai.

Errors become :class:`~assistant.errors.GeneratorError` messages built from the error's kind and status
code, never from request data, so the API key cannot leak into a client's view.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import openai
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_openai import AzureChatOpenAI, ChatOpenAI
from pydantic import SecretStr

from assistant.config import Settings
from assistant.errors import GeneratorError, GeneratorTimeout, GeneratorUnavailable
from assistant.generation.base import AVAILABLE, Availability, Message, Prompt

__all__ = ["OpenAICompatGenerator"]

log = logging.getLogger(__name__)

# Local servers (llama.cpp, vLLM, Ollama) accept any key; the SDK insists on one.
_PLACEHOLDER_KEY = "not-needed"
_ROLES: dict[str, type[BaseMessage]] = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
_PROBE_TIMEOUT_S = 5.0
_REPROBE_AFTER_S = 5.0  # an unreachable endpoint is tried again at most this often
_FIX = "check EKA_OPENAI_BASE_URL (or EKA_AZURE_ENDPOINT) and that the endpoint is running"


class OpenAICompatGenerator:
    """Streams answers from an OpenAI-compatible chat endpoint.

    Example:
        >>> settings = Settings(generator="openai", openai_base_url="http://127.0.0.1:8080/v1")
        >>> gen = OpenAICompatGenerator(settings)  # doctest: +SKIP
        >>> gen.model_id  # doctest: +SKIP
        'openai:gpt-4o-mini@http://127.0.0.1:8080/v1'
    """

    name = "openai"

    def __init__(self, settings: Settings) -> None:
        """Build the client; nothing is sent until the first answer."""
        # OPENAI_API_KEY is the SDK's own convention, honoured here as the fallback for EKA_OPENAI_API_KEY.
        key = settings.openai_api_key or os.environ.get("OPENAI_API_KEY") or _PLACEHOLDER_KEY
        self._secret = key if key != _PLACEHOLDER_KEY else None
        self.model = settings.openai_model
        self.temperature = settings.llm_temperature
        self.max_tokens = settings.llm_max_tokens
        self.timeout_s = settings.llm_timeout_s
        self.endpoint = _public_url(
            settings.azure_endpoint or settings.openai_base_url or "https://api.openai.com/v1"
        )
        self.model_id = f"openai:{self.model}@{self.endpoint}"
        common: dict[str, Any] = {
            "api_key": SecretStr(key),
            "temperature": self.temperature,
            "timeout": self.timeout_s,
            "max_retries": 1,
            "streaming": True,
        }
        self._chat: BaseChatModel
        if settings.azure_endpoint:
            self._chat = AzureChatOpenAI(
                azure_endpoint=settings.azure_endpoint,
                azure_deployment=self.model,
                api_version=settings.azure_api_version,
                **common,
            )
        else:
            self._chat = ChatOpenAI(base_url=settings.openai_base_url, model=self.model, **common)
        # langchain-openai sends only max_completion_tokens; older compatible servers (llama.cpp's Python
        # server among them) read max_tokens and would otherwise run to the end of their context. OpenAI
        # itself gets max_completion_tokens alone (some of its models reject max_tokens).
        host = urlsplit(self.endpoint).hostname
        self._send_max_tokens = not settings.azure_endpoint and host != "api.openai.com"
        self.fix = _FIX
        self._down: Availability | None = None  # set while the endpoint is unreachable
        self._probed_at = 0.0

    def params(self) -> dict[str, Any]:
        """Temperature, max tokens, timeout and endpoint, for provenance."""
        return {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "timeout_s": self.timeout_s,
            "endpoint": self.endpoint,
        }

    def stream(self, prompt: Prompt) -> Iterator[str]:
        """Yield the answer in pieces; GeneratorTimeout once ``llm_timeout_s`` has passed."""
        return self.generate(prompt.messages, self.max_tokens)

    def complete(self, messages: tuple[Message, ...], max_tokens: int = 128) -> str:
        """A short completion, streamed internally so the time limit holds."""
        return "".join(self.generate(messages, max_tokens))

    def availability(self) -> Availability:
        """Unavailable while the endpoint could not be reached; otherwise available."""
        return self._down or AVAILABLE

    def prepare(self) -> None:
        """Check that something answers at the endpoint (any HTTP status counts: only reachability).

        Raises:
            GeneratorUnavailable: nothing answers there (refused, unknown host, timed out).
        """
        self._probed_at = time.monotonic()
        try:
            httpx.get(f"{self.endpoint}/models", timeout=min(_PROBE_TIMEOUT_S, self.timeout_s))
        except httpx.HTTPError as err:
            self._down = Availability(
                False, f"could not reach the model endpoint at {self.endpoint}", self.fix
            )
            log.warning("%s (%s)", self._down.reason, type(err).__name__)
            raise GeneratorUnavailable(self._down.reason or "", self.fix) from err
        self._down = None

    def close(self) -> None:
        """Nothing to release: HTTP connections close with each answer."""

    def generate(self, messages: tuple[Message, ...], max_tokens: int) -> Iterator[str]:
        """Yield a completion of ``messages`` in pieces, at most ``max_tokens`` tokens.

        Raises:
            GeneratorUnavailable: the endpoint cannot be reached (checked again at most every 5 s).
            GeneratorTimeout: no answer within ``llm_timeout_s``.
            GeneratorError: any other failure, with a message safe to show.
        """
        if self._down is not None:
            if time.monotonic() - self._probed_at < _REPROBE_AFTER_S:
                raise GeneratorUnavailable(self._down.reason or "", self.fix)
            self.prepare()
        deadline = time.monotonic() + self.timeout_s
        limits: dict[str, Any] = {"max_tokens": max_tokens}
        if self._send_max_tokens:
            limits["extra_body"] = {"max_tokens": max_tokens}
        chat = self._chat.bind(**limits)
        chunks = chat.stream([_ROLES.get(m.role, HumanMessage)(content=m.content) for m in messages])
        try:
            for chunk in chunks:
                if time.monotonic() > deadline:
                    raise GeneratorTimeout(f"the model endpoint did not finish within {self.timeout_s:g} s")
                if chunk.text:
                    yield chunk.text
        except GeneratorError:
            raise
        except Exception as err:
            raise self._safe_error(err) from err
        finally:
            close = getattr(chunks, "close", None)  # a generator: closing it ends the HTTP stream
            if close is not None:
                close()

    def _safe_error(self, err: Exception) -> GeneratorError:
        """A client-safe error for a failed request: kind and status, no request data, no key."""
        if isinstance(err, openai.APITimeoutError):
            return GeneratorTimeout(f"the model endpoint did not answer within {self.timeout_s:g} s")
        if isinstance(err, openai.APIConnectionError):
            message = f"could not reach the model endpoint at {self.endpoint}"
            log.warning("%s: %s", message, self._redact(str(err))[:500])
            self._down, self._probed_at = Availability(False, message, self.fix), time.monotonic()
            return GeneratorUnavailable(message, self.fix)
        elif isinstance(err, openai.AuthenticationError):
            message = "the model endpoint rejected the API key (HTTP 401)"
        elif isinstance(err, openai.RateLimitError):
            message = "the model endpoint is rate limiting requests (HTTP 429); try again later"
        elif isinstance(err, openai.APIStatusError):
            message = f"the model endpoint answered HTTP {err.status_code} for model {self.model!r}"
        else:
            message = f"the model endpoint failed ({type(err).__name__})"
        log.warning("%s: %s", message, self._redact(str(err))[:500])
        return GeneratorError(message)

    def _redact(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text


def _public_url(url: str) -> str:
    """The URL without user info or query (either may carry credentials)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
