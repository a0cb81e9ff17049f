"""A supervised llama.cpp server: the local model runs in a child process that eka starts and restarts.

llama.cpp is native code: an illegal instruction, an out-of-memory kill or a bug in it ends the process it
runs in. So the model never runs inside the API: :class:`LlamaServer` starts llama-cpp-python's
OpenAI-compatible server (through :mod:`assistant.generation.llama_child`) on a free loopback port with a
random API key, waits until it answers, and starts it again when it has died. Its output goes to a log file.

Example:
    >>> server = LlamaServer(Path("model.gguf"), n_ctx=4096, threads=2, log_path=Path("llama.log"))
    >>> url = server.ensure()  # doctest: +SKIP
    'http://127.0.0.1:41234/v1'
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from assistant.errors import GeneratorUnavailable

__all__ = ["LlamaServer", "describe_exit"]

log = logging.getLogger(__name__)

_RETRY_START_AFTER_S = 10.0  # after a failed start, fail fast for this long instead of trying again
_POLL_S = 0.2


def describe_exit(returncode: int) -> str:
    """``exit code 1`` or ``signal 9 (SIGKILL)``, from a Popen return code."""
    if returncode >= 0:
        return f"exit code {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = "unknown signal"
    return f"signal {-returncode} ({name})"


# What the model process inherits: llama_cpp.server reads its settings from the environment too (HOST, PORT,
# MODEL, CONFIG_FILE, ...), so it gets only what a Python process needs, never eka's or a user's secrets.
_CHILD_ENV = ("PATH", "HOME", "LANG", "TMPDIR", "VIRTUAL_ENV", "LD_LIBRARY_PATH", "SYSTEMROOT")
_CHILD_ENV_PREFIXES = ("LC_", "OMP_", "GGML_", "LLAMA_")


def _child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in _CHILD_ENV or k.startswith(_CHILD_ENV_PREFIXES)}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LlamaServer:
    """One llama.cpp server child process, started on demand and restarted after it dies."""

    def __init__(
        self,
        model: Path,
        *,
        n_ctx: int,
        threads: int,
        log_path: Path,
        start_timeout_s: float = 120.0,
        python: str = sys.executable,
    ) -> None:
        self.model = model
        self.n_ctx = n_ctx
        self.threads = threads
        self.log_path = log_path
        self.start_timeout_s = start_timeout_s
        self.python = python
        self.api_key = ""
        self.url = ""
        self.starts = 0  # how many times a process was started (restarts show as > 1)
        self._process: subprocess.Popen[bytes] | None = None
        self._failed: tuple[float, str] | None = None  # (when, why) of the last failed start
        self._lock = threading.Lock()
        atexit.register(self.stop)

    @property
    def pid(self) -> int | None:
        """The child's pid while one has been started (it may have died since)."""
        return self._process.pid if self._process else None

    def alive(self) -> bool:
        """Whether the child process is running."""
        return self._process is not None and self._process.poll() is None

    def exit_status(self, wait_s: float = 1.0) -> str | None:
        """How the child ended (``signal 9 (SIGKILL)``), waiting up to ``wait_s`` for it; None if running."""
        process = self._process
        if process is None:
            return None
        try:
            code = process.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            return None
        return describe_exit(code)

    def last_failure(self) -> str | None:
        """Why the last start failed, while starts are not retried (a few seconds); otherwise None."""
        failed = self._failed
        if failed is None or time.monotonic() - failed[0] >= _RETRY_START_AFTER_S:
            return None
        return failed[1]

    def ensure(self) -> str:
        """The server's base URL (``http://127.0.0.1:PORT/v1``), starting the process if it is not running.

        Raises:
            GeneratorUnavailable: the process could not be started or did not become ready.
        """
        with self._lock:
            if self.alive():
                return self.url
            if self._process is not None:
                log.warning(
                    "the local model process (pid %s) ended with %s; starting it again",
                    self._process.pid,
                    describe_exit(self._process.returncode),
                )
                self._process = None
            if self._failed and time.monotonic() - self._failed[0] < _RETRY_START_AFTER_S:
                raise GeneratorUnavailable(self._failed[1], f"see {self.log_path}")
            try:
                self._start()
            except GeneratorUnavailable as err:
                self._failed = (time.monotonic(), err.reason)
                raise
            self._failed = None
            return self.url

    def kill(self) -> None:
        """Kill the child now (a hung model); the next :meth:`ensure` starts a new one."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def stop(self) -> None:
        """Stop the child politely (SIGTERM, then SIGKILL after 10 s)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _command(self, port: int) -> list[str]:
        return [
            self.python,
            "-m",
            "assistant.generation.llama_child",
            str(os.getpid()),
            "--model",
            str(self.model),
            "--model_alias",
            "local",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            str(self.n_ctx),
            "--n_threads",
            str(self.threads),
            # llama_cpp.server's default cuts a streaming answer short when another request arrives; eka's
            # users ask concurrently, so requests queue instead.
            "--interrupt_requests",
            "false",
        ]

    def _start(self) -> None:
        """Start a new child and wait until it serves; the caller holds the lock."""
        started = time.perf_counter()
        self.api_key = secrets.token_urlsafe(24)
        port = _free_port()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            out.write(f"\n== eka: starting the local model on port {port}\n".encode())
            out.flush()
            # The key goes by environment (llama_cpp.server's settings read API_KEY), not the command line
            # that every local user can list.
            env = {**_child_env(), "PYTHONUNBUFFERED": "1", "API_KEY": self.api_key}
            self._process = subprocess.Popen(
                self._command(port), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env
            )
        self.starts += 1
        self.url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + self.start_timeout_s
        headers = {"Authorization": f"Bearer {self.api_key}"}
        while True:
            if self._process.poll() is not None:
                status = describe_exit(self._process.returncode)
                log.error("the local model process ended while starting (%s); log: %s", status, self.log_path)
                raise GeneratorUnavailable(f"the local model process ended while starting ({status})")
            try:
                if httpx.get(f"{self.url}/models", headers=headers, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise GeneratorUnavailable(
                    f"the local model process was not ready after {self.start_timeout_s:g} s"
                )
            time.sleep(_POLL_S)
        log.info(
            "local model %s serving at %s (pid %d) after %.1f s",
            self.model.name,
            self.url,
            self._process.pid,
            time.perf_counter() - started,
        )
