"""``make demo`` / ``make stop``: demo keys for the sample personas, the API and the chat in the background.

``python -m eka.demo start`` creates (or reuses) one API key per persona, stored in
``EKA_HOME/demo-keys.json`` (mode 600), starts ``eka serve`` and the Streamlit chat detached on loopback
(ports ``EKA_API_PORT``, default 8000, and ``EKA_UI_PORT``, default 8501), waits until both are ready and
prints their URLs, the personas with their keys and a first request to try. The chat gets the keys file, so
it offers a persona picker. ``python -m eka.demo stop`` stops what ``start`` started.

Both ports are checked before anything starts: one taken by another program ends ``start`` at once with the
variable to change. If a process fails to start, what this ``start`` had started is stopped again, so a
failed start leaves nothing running.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from assistant.config import Settings
from assistant.services import open_keys
from eka.ports import in_use, taken
from eka.ui_cli import streamlit_command, ui_env

# How long each process may take to become healthy (the API loads the model and the indexes first).
START_TIMEOUT_S = {"api": 300.0, "ui": 120.0}


@dataclass(frozen=True, slots=True)
class Persona:
    user: str
    who: str
    groups: tuple[str, ...]
    roles: tuple[str, ...] = ()


PERSONAS = (
    Persona("pia", "workshop technician: public documents only", ()),
    Persona("bert", "battery and powertrain engineer", ("battery", "powertrain")),
    Persona("sara", "cybersecurity engineer", ("security", "software")),
    Persona("kim", "Kestrel brand engineer", ("brand-kestrel",)),
    Persona(
        "quinn",
        "quality lead: reads everything, may upload (also to public) and audit",
        ("battery", "security", "software", "powertrain", "quality", "brand-kestrel", "brand-tamsin"),
        ("ingest", "publish", "auditor"),
    ),
)


def demo_keys(settings: Settings) -> dict[str, str]:
    """A working key per persona, reusing the saved ones that are still valid."""
    path = settings.home / "demo-keys.json"
    saved: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    keys = open_keys(settings)
    out: dict[str, str] = {}
    try:
        for persona in PERSONAS:
            secret = saved.get(persona.user)
            key = keys.authenticate(secret) if secret else None
            if key is None or set(key.groups) != set(persona.groups) or set(key.roles) != set(persona.roles):
                _, secret = keys.create(persona.user, list(persona.groups), list(persona.roles))
            assert secret is not None
            out[persona.user] = secret
    finally:
        keys.close()
    path.write_text(json.dumps(out, indent=2))
    path.chmod(0o600)
    return out


def _ready(url: str, path: str = "/readyz") -> bool:
    try:
        with urllib.request.urlopen(f"{url}{path}", timeout=2) as response:  # noqa: S310 - loopback URL
            return bool(response.status == 200)
    except OSError:
        return False


def _alive(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


@dataclass(frozen=True, slots=True)
class Service:
    """One of the two processes ``start`` runs: its name (pid and log file), label, port and health path."""

    name: str
    label: str
    variable: str  # the setting that moves it to another port
    port: int
    health: str

    def url(self, host: str) -> str:
        return f"http://{host}:{self.port}"

    def running(self, settings: Settings, host: str) -> bool:
        """Whether the process a previous ``start`` left is alive and healthy on this port."""
        return _alive(settings.home / f"{self.name}.pid") is not None and _ready(self.url(host), self.health)


def check_ports(settings: Settings, services: tuple[Service, ...]) -> None:
    """Exit at once if a port is taken by anything but this demo's own running process."""
    host = settings.api_host
    ports = tuple(s.port for s in services)
    if len(set(ports)) < len(ports):
        raise SystemExit(
            f"the API and the chat cannot share port {ports[0]}: set EKA_UI_PORT to another port "
            "and run make demo again"
        )
    for service in services:
        if not service.running(settings, host) and in_use(host, service.port):
            raise SystemExit(f"{taken(host, service.port, service.variable, ports)} and run make demo again")


@dataclass(frozen=True, slots=True)
class Launched:
    """A process this ``start`` launched (so it can stop it again if a later step fails)."""

    service: Service
    process: subprocess.Popen[bytes]
    pid_file: Path

    def stop(self) -> None:
        """Stop the process and its children, and forget its pid file."""
        _stop_group(self.process.pid, self.process)
        self.pid_file.unlink(missing_ok=True)


def _stop_group(pgid: int, leader: subprocess.Popen[bytes] | None = None, timeout_s: float = 20) -> bool:
    """SIGTERM a process group and wait until all of it is gone (SIGKILL after ``timeout_s``).

    Returns whether it is gone. ``leader`` (when this process started it) is reaped while waiting.
    """
    for sig in (signal.SIGTERM, signal.SIGKILL):
        _signal_group(pgid, sig)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if leader is not None:
                leader.poll()  # reaps it: a zombie leader would keep the group "alive"
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.1)
    return False


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _launch(settings: Settings, service: Service, command: list[str], env: dict[str, str] | None) -> Launched:
    """Start ``command`` detached (pid in NAME.pid, output in NAME.log); wait until it is healthy.

    If it exits or is not healthy in time, it is stopped (nothing is left running) and this exits.
    """
    host = settings.api_host
    log_path = settings.home / f"{service.name}.log"
    process = subprocess.Popen(
        command, env=env, stdout=log_path.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
    )
    launched = Launched(service, process, settings.home / f"{service.name}.pid")
    launched.pid_file.write_text(str(process.pid))
    timeout_s = START_TIMEOUT_S[service.name]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            launched.stop()
            raise SystemExit(f"{service.label} stopped while starting{_last_line(log_path)}; see {log_path}")
        if _ready(service.url(host), service.health):
            return launched
        time.sleep(0.5)
    launched.stop()
    raise SystemExit(f"{service.label} was not ready after {timeout_s:.0f} s; see {log_path}")


def _last_line(log_path: Path) -> str:
    """``: <the log's last line>`` (what the process said before it stopped), or nothing."""
    lines = [line.strip() for line in log_path.read_text(errors="replace").splitlines()[-20:] if line.strip()]
    return f": {lines[-1][:300]}" if lines else ""


def start_api(settings: Settings, service: Service) -> Launched | None:
    """Start ``eka serve`` detached (None if this demo's API already runs) and wait until it is ready."""
    host = settings.api_host
    if service.running(settings, host):
        return None
    eka = Path(sys.executable).with_name("eka")
    command = [str(eka), "serve", "--host", host, "--port", str(service.port), "--log-level", "warning"]
    return _launch(settings, service, command, None)


def start_ui(settings: Settings, service: Service, api_url: str) -> Launched | None:
    """Start the chat detached (None if it already runs), with the persona picker; wait until it answers."""
    host = settings.api_host
    if service.running(settings, host):
        return None
    env = ui_env(api_url, demo_keys=(settings.home / "demo-keys.json").resolve())
    return _launch(settings, service, streamlit_command(service.port, host), env)


def stop(settings: Settings) -> None:
    """Stop the processes ``start`` started."""
    for name in ("api", "ui"):
        pid_file = settings.home / f"{name}.pid"
        pid = _alive(pid_file)
        if pid is not None:
            gone = _stop_group(pid)
            print(f"stopped the {name} (pid {pid})" if gone else f"the {name} (pid {pid}) did not stop")
        pid_file.unlink(missing_ok=True)


def start(settings: Settings) -> tuple[str, str, dict[str, str]]:
    """Start the API and the chat (each unless it already runs); returns their URLs and the demo keys.

    Ports are checked before anything starts. If a step fails, what this call started is stopped again.
    """
    api = Service("api", "the API", "EKA_API_PORT", settings.api_port, "/readyz")
    ui = Service("ui", "the chat", "EKA_UI_PORT", settings.ui_port, "/_stcore/health")
    check_ports(settings, (api, ui))
    keys = demo_keys(settings)
    started: list[Launched] = []
    try:
        if launched := start_api(settings, api):
            started.append(launched)
        if launched := start_ui(settings, ui, api.url(settings.api_host)):
            started.append(launched)
    except SystemExit as err:
        for launched in reversed(started):
            launched.stop()
        if not started:
            raise
        stopped = " and ".join(launched.service.label for launched in started)
        raise SystemExit(f"{err.code}\n{stopped}, started by this run, was stopped again") from None
    except KeyboardInterrupt:
        for launched in reversed(started):
            launched.stop()
        raise
    return api.url(settings.api_host), ui.url(settings.api_host), keys


def main(argv: list[str]) -> None:
    settings = Settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    if argv[:1] == ["stop"]:
        stop(settings)
        return
    url, chat, keys = start(settings)
    print(f"\neka chat ready at {chat}  (sign in as a persona below, or with any API key)")
    print(f"eka API ready at {url}  (OpenAPI docs: {url}/docs; generator: {settings.generator})\n")
    print("Demo personas and their API keys:")
    for persona in PERSONAS:
        groups = ", ".join(("public", *persona.groups))
        roles = f"; roles: {', '.join(persona.roles)}" if persona.roles else ""
        print(f"  {persona.user:<6} {persona.who} (groups: {groups}{roles})\n         {keys[persona.user]}")
    print(
        "\nTry:\n"
        f"  curl -s {url}/v1/answer -H 'Authorization: Bearer {keys['bert']}' "
        "-H 'Content-Type: application/json' \\\n"
        '       -d \'{"question": "What maximum cell temperature was reached in the TC-09 re-test?"}\'\n'
        f"\nLogs: {settings.home / 'api.log'}, {settings.home / 'ui.log'}.  Stop both with: make stop\n"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
