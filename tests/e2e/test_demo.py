"""`make demo` (``python -m eka.demo start``) and `eka serve` when a port is taken or a start fails.

A taken port is reported before anything starts, naming the variable to change; a start that fails part-way
stops what it had started. "Nothing left running" is checked by looking for any process whose environment
has this test's ``EKA_HOME``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from eka.ports import in_use
from tests.server import eka, eka_env, free_port

pytestmark = pytest.mark.e2e

# Only a guard against a hang: each of these runs fails in about a second (the start-up failure in about a
# minute: ingest, then the API loads the model before the chat fails).
GUARD_S = 300


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another program (this test) listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def demo(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eka.demo", *args],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=GUARD_S,
        check=False,
    )


def running_with(home: Path) -> list[int]:
    """Pids of the processes whose environment sets ``EKA_HOME`` to ``home``."""
    marker = f"EKA_HOME={home}".encode()
    pids = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes().split(b"\0"):
                pids.append(int(environ.parent.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return pids


def test_demo_with_the_api_port_taken_stops_at_once_naming_eka_api_port(
    tmp_path: Path, taken_port: int
) -> None:
    ui_port = free_port()
    result = demo(tmp_path, "start", env=eka_env(tmp_path, api_port=str(taken_port), ui_port=str(ui_port)))
    assert result.returncode != 0
    assert f"port {taken_port} is in use by another program: set EKA_API_PORT=" in result.stderr
    assert "run make demo again" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "api.log").exists() and not (tmp_path / "ui.log").exists(), "nothing was started"
    assert running_with(tmp_path) == []


def test_demo_with_the_chat_port_taken_stops_before_starting_the_api(tmp_path: Path, taken_port: int) -> None:
    api_port = free_port()
    result = demo(tmp_path, "start", env=eka_env(tmp_path, api_port=str(api_port), ui_port=str(taken_port)))
    assert result.returncode != 0
    assert f"port {taken_port} is in use by another program: set EKA_UI_PORT=" in result.stderr
    assert not (tmp_path / "api.pid").exists() and not (tmp_path / "api.log").exists()
    assert not in_use("127.0.0.1", api_port), "no API left listening"
    assert running_with(tmp_path) == []


def test_demo_refuses_one_port_for_both(tmp_path: Path) -> None:
    port = str(free_port())
    result = demo(tmp_path, "start", env=eka_env(tmp_path, api_port=port, ui_port=port))
    assert result.returncode != 0 and "cannot share port" in result.stderr and "EKA_UI_PORT" in result.stderr
    assert running_with(tmp_path) == []


def test_demo_whose_chat_fails_to_start_stops_the_api_it_started(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "note.md").write_text("# Pads\n\nThe pad wear warning is set at 3 mm of remaining lining.\n")
    home = tmp_path / "home"
    home.mkdir()
    assert eka(home, "ingest", str(corpus)).returncode == 0
    # a `streamlit` that fails at once stands in for a chat that cannot start
    fake = tmp_path / "fake" / "streamlit"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text("import sys\nsys.exit('streamlit: simulated start-up failure')\n")
    api_port = free_port()
    env = eka_env(home, api_port=str(api_port), ui_port=str(free_port()))
    env["PYTHONPATH"] = str(fake.parent)

    result = demo(home, "start", env=env)

    assert result.returncode != 0
    assert "the chat stopped while starting: streamlit: simulated start-up failure" in result.stderr
    assert str(home / "ui.log") in result.stderr
    assert "the API, started by this run, was stopped again" in result.stderr
    assert (home / "api.log").exists(), "the API had been started"
    assert not (home / "api.pid").exists() and not (home / "ui.pid").exists()
    assert not in_use("127.0.0.1", api_port), "no API left listening"
    assert running_with(home) == []


def test_eka_serve_on_a_taken_port_fails_at_once_with_one_line(tmp_path: Path, taken_port: int) -> None:
    result = eka(tmp_path, "serve", "--port", str(taken_port), timeout=GUARD_S)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: port {taken_port} is in use by another program: start with --port ")
    assert "EKA_API_PORT=" in line
    assert not (tmp_path / "eka.sqlite3").exists(), "it failed before opening the store or loading the model"


def test_eka_serve_takes_its_port_from_eka_api_port(tmp_path: Path, taken_port: int) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "eka", "serve"],
        env=eka_env(tmp_path, api_port=str(taken_port)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=GUARD_S,
        check=False,
    )
    assert result.returncode == 1 and f"port {taken_port} is in use" in result.stderr
