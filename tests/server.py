"""The real service for e2e and security tests: samples ingested once, a key per persona, `eka serve`.

One server (``api``) is shared by every API test of the session. It runs with small body and upload limits
(so 413 can be tested without sending megabytes) and a rate limit high enough never to get in the way; the
429 test starts its own short-lived server. When a test fails, the tail of each running server's log is
attached to its report.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from tests.conftest import SAMPLE_GROUPS, SAMPLES

READY_TIMEOUT_S = 120.0
# Limits of the shared server: a request body over 2 MB and an uploaded file over 1 MB are refused (413).
MAX_BODY_MB = 2
MAX_FILE_MB = 1

_RUNNING: list[Process] = []
_P = TypeVar("_P", bound="Process")


def eka_env(home: Path, **settings: str) -> dict[str, str]:
    """The environment of an ``eka`` process: this one's without EKA_* settings, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EKA_")}
    env.update(
        {"EKA_HOME": str(home), "COLUMNS": "200", **{f"EKA_{k.upper()}": v for k, v in settings.items()}}
    )
    return env


def eka(home: Path, *args: str, timeout: float = 600, **settings: str) -> subprocess.CompletedProcess[str]:
    """Run the ``eka`` command against ``home`` (from inside it, so no stray ``.env`` is read), with
    ``settings`` as in :func:`eka_env` (e.g. ``database_url``)."""
    return subprocess.run(
        [sys.executable, "-m", "eka", *args],
        env=eka_env(home, **settings),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass(frozen=True, slots=True)
class Persona:
    """An API key as `eka keys create --json` printed it."""

    name: str
    user: str
    key: str
    key_id: str
    groups: tuple[str, ...]
    roles: tuple[str, ...]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def create_key(
    home: Path, name: str, user: str, groups: str = "", roles: str = "", **settings: str
) -> Persona:
    """A new API key for ``user`` made with the CLI (``settings`` as in :func:`eka_env`)."""
    result = eka(
        home, "keys", "create", "--user", user, "--groups", groups, "--roles", roles, "--json", **settings
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["key"].startswith("eka_")
    return Persona(
        name, data["user"], data["key"], data["key_id"], tuple(data["groups"]), tuple(data["roles"])
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    """A server process started by a fixture (``eka serve``, Streamlit), with its log."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, chars: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else "(no log)"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        if self in _RUNNING:
            _RUNNING.remove(self)


@dataclass
class Server(Process):
    """A running `eka serve` process over ``home``, with the personas' keys."""

    home: Path
    personas: dict[str, Persona] = field(default_factory=dict)

    def client(self, persona: str | None = None, timeout: float = 120) -> httpx.Client:
        """An HTTP client of this server, authenticated as ``persona`` (or anonymous)."""
        headers = self.personas[persona].headers if persona else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)


def popen(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start ``command`` with its output in ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)


def wait_ready(server: _P, health: str, timeout: float = READY_TIMEOUT_S) -> _P:
    """Wait until ``server.url + health`` answers 200, then register the server (its log tail goes into the
    report of a failing test); stop it and raise with its log when it exits or is not ready in time."""
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            if httpx.get(server.url + health, timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"{server.name} not ready after {timeout:.0f} s:\n{server.log_tail()}")
        time.sleep(0.3)
    _RUNNING.append(server)
    return server


def start_server(name: str, home: Path, *args: str, **settings: str) -> Server:
    """Start `eka serve` (with ``args``, e.g. ``--workers 2``) on a free port; wait until /readyz is ready."""
    port = free_port()
    log = home / f"server-{name}.log"
    command = [sys.executable, "-m", "eka", "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    process = popen(command, eka_env(home, **settings), home, log)
    return wait_ready(Server(name, f"http://127.0.0.1:{port}", process, log, home), "/readyz")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.failed:
        for server in _RUNNING:
            report.sections.append((f"{server.name} log (tail)", server.log_tail()))
    return report


@pytest.fixture(scope="session")
def api_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with the sample corpus ingested by `eka ingest` (once per session)."""
    home = tmp_path_factory.mktemp("api-home")
    result = eka(home, "ingest", str(SAMPLES))
    assert result.returncode == 0, result.stderr[-3000:]
    return home


# name -> (user, groups, roles)
PERSONAS = {
    "public": ("pat", "", ""),
    "battery": ("bea", "battery", ""),
    "security": ("sam", "security", ""),
    "ingester": ("ivan", "public", "ingest,publish"),  # publishes: writes to public
    # an ingester in the battery group: the uploads below go to that group, and only readers may delete
    "battery-ingester": ("bill", "battery", "ingest"),
    "auditor": ("aud", ",".join(SAMPLE_GROUPS), "auditor"),
    "auditor-nosec": ("ada", ",".join(g for g in SAMPLE_GROUPS if g != "security"), "auditor"),
    "schema": ("fuzz", "public", "ingest"),
}


@pytest.fixture(scope="session")
def api(api_home: Path) -> Iterator[Server]:
    """The shared server over the ingested samples, with a key per persona."""
    personas = {name: create_key(api_home, name, *spec) for name, spec in PERSONAS.items()}
    server = start_server(
        "api",
        api_home,
        rate_limit_per_minute="1000000",
        api_max_body_mb=str(MAX_BODY_MB),
        max_file_mb=str(MAX_FILE_MB),
    )
    server.personas = personas
    yield server
    server.stop()
