"""The chat against the real service: samples ingested once, the demo personas' keys, `eka serve` on loopback.

- ``api``: one `eka serve` for the session, over a home with ``samples/`` ingested and a key per demo persona
  (``eka.demo.PERSONAS``, saved in ``demo-keys.json`` as ``make demo`` does).
- ``chat``: one ``streamlit run ui/app.py`` for the browser tests, started the way ``eka ui`` starts it.
- ``stub_api``: a tiny scripted HTTP server for the states the real service cannot be made to show on demand
  (a stream that fails part-way, an empty index, several generators, an unavailable one).

When a test fails, the tail of each running server's log is attached to its report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from eka.ui_cli import streamlit_command, ui_env
from tests.conftest import ROOT, SAMPLES
from tests.server import Process, eka_env, free_port, popen, wait_ready

READY_TIMEOUT_S = 180.0  # Streamlit's first start is slower than the API's
ARTIFACTS = ROOT / "tests" / "artifacts"


def start(name: str, command: list[str], env: dict[str, str], cwd: Path, url: str, health: str) -> Process:
    """Start ``command`` and wait until ``url + health`` answers 200."""
    log = cwd / f"{name}.log"
    return wait_ready(Process(name, url, popen(command, env, cwd, log), log), health, READY_TIMEOUT_S)


# -- the real service ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Home:
    """An EKA_HOME with the samples ingested and the demo personas' keys."""

    path: Path
    keys: dict[str, str]

    @property
    def keys_file(self) -> Path:
        return self.path / "demo-keys.json"


@pytest.fixture(scope="session")
def ui_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    home = tmp_path_factory.mktemp("ui-home")
    result = subprocess.run(
        [sys.executable, "-m", "eka", "ingest", str(SAMPLES)],
        env=eka_env(home),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    from assistant.config import Settings
    from eka.demo import demo_keys

    keys = demo_keys(Settings(home=home, _env_file=None))  # type: ignore[call-arg]
    return Home(home, keys)


@pytest.fixture(scope="session")
def api(ui_home: Home) -> Iterator[Process]:
    port = free_port()
    server = start(
        "eka-serve",
        [
            sys.executable,
            "-m",
            "eka",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        eka_env(ui_home.path, rate_limit_per_minute="1000000"),
        ui_home.path,
        f"http://127.0.0.1:{port}",
        "/readyz",
    )
    yield server
    server.stop()


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, api: Process, ui_home: Home) -> Home:
    """The environment `eka ui` gives the app (AppTest runs it in this process): the API and the demo keys."""
    for name in [k for k in os.environ if k.startswith("EKA_UI_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("EKA_UI_API_URL", api.url)
    monkeypatch.setenv("EKA_UI_DEMO_KEYS", str(ui_home.keys_file))
    return ui_home


@pytest.fixture(scope="session")
def chat(api: Process, ui_home: Home) -> Iterator[Process]:
    """The chat as `eka ui` runs it (``streamlit run``), with the demo persona picker."""
    port = free_port()
    server = start(
        "streamlit",
        streamlit_command(port),
        ui_env(api.url, demo_keys=ui_home.keys_file, base=eka_env(ui_home.path)),
        ui_home.path,
        f"http://127.0.0.1:{port}",
        "/_stcore/health",
    )
    yield server
    server.stop()


# -- a scripted stand-in for the API ------------------------------------------------------------------------


@dataclass
class StubApi:
    """An HTTP server answering the chat's calls from ``script``; ``requests`` records the JSON bodies."""

    url: str = ""
    documents: list[dict[str, Any]] = field(default_factory=list)
    facets: dict[str, list[str]] = field(default_factory=dict)
    generators: list[str] = field(default_factory=lambda: ["extractive"])
    # the server's default generator (None: the first of ``generators``) and the per-generator list of newer
    # servers (None: not sent, as by older ones)
    default_generator: str | None = None
    generator_details: list[dict[str, Any]] | None = None
    answer_events: list[dict[str, Any]] = field(default_factory=list)
    # an error status and JSON body for POST /v1/answer instead of the stream (e.g. 503 for an unavailable
    # generator)
    answer_error: tuple[int, dict[str, Any]] | None = None
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def reply(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        self.requests.append((f"{method} {path}", body))
        if path == "/v1/me":
            return 200, {"user": "stub", "groups": ["public"], "roles": [], "key_id": "key_stub"}
        if path == "/v1/generators":
            listing: dict[str, Any] = {
                "default": self.default_generator or self.generators[0],
                "available": self.generators,
            }
            if self.generator_details is not None:
                listing["generators"] = self.generator_details
            return 200, listing
        if path == "/v1/documents":
            return 200, {"documents": self.documents, "facets": self.facets}
        if path == "/v1/answer":
            return self.answer_error or (200, self.answer_events)
        return 404, {"error": "not_found", "detail": f"no {path}"}


@pytest.fixture
def stub_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubApi]:
    stub = StubApi()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw.startswith(b"{") else {}
            status, payload = stub.reply(self.command, self.path, body)
            if isinstance(payload, list):  # an NDJSON stream
                self.send_response(status)
                self.send_header("Content-Type", "application/x-ndjson")
                self.end_headers()
                for event in payload:
                    self.wfile.write(json.dumps(event).encode() + b"\n")
                    self.wfile.flush()
                return
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    for name in [k for k in os.environ if k.startswith("EKA_UI_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("EKA_UI_API_URL", stub.url)
    monkeypatch.setenv("EKA_UI_API_KEY", "eka_stub")
    yield stub
    server.shutdown()
    server.server_close()
