"""``make demo`` / ``make stop``: demo keys for the sample personas, the API and the chat in the background.

``python -m eka.demo start`` creates (or reuses) one API key per persona, stored in
``EKA_HOME/demo-keys.json`` (mode 600), starts ``eka serve`` and the Streamlit chat detached on loopback
(ports ``EKA_API_PORT``, default 8000, and ``EKA_UI_PORT``, default 8501), waits until both are ready and
prints their URLs, the personas with their keys and a first request to try. The chat gets the keys file, so
it offers a persona picker. ``python -m eka.demo stop`` stops what ``start`` started.
"""

from __future__ import annotations

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
from assistant.keys import KeyStore
from eka.ui_cli import streamlit_command, ui_env


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
        "quality lead: reads everything, may upload and audit",
        ("battery", "security", "software", "powertrain", "quality", "brand-kestrel", "brand-tamsin"),
        ("ingest", "auditor"),
    ),
)


def demo_keys(settings: Settings) -> dict[str, str]:
    """A working key per persona, reusing the saved ones that are still valid."""
    path = settings.home / "demo-keys.json"
    saved: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    keys = KeyStore(settings.home / "keys.sqlite3")
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


def start_api(settings: Settings, host: str, port: int, timeout_s: float = 300) -> str:
    """Start ``eka serve`` detached (unless it already runs) and wait until it is ready."""
    url = f"http://{host}:{port}"
    pid_file = settings.home / "api.pid"
    if _alive(pid_file) and _ready(url):
        return url
    if _ready(url):  # another program's server: ours could not bind, and its keys are not ours
        raise SystemExit(f"port {port} is taken by another eka server; stop it or set EKA_API_PORT")
    eka = Path(sys.executable).with_name("eka")
    command = [str(eka), "serve", "--host", host, "--port", str(port), "--log-level", "warning"]
    return _launch(settings, "api", "the API", command, None, url, "/readyz", timeout_s)


def _launch(
    settings: Settings,
    name: str,
    label: str,
    command: list[str],
    env: dict[str, str] | None,
    url: str,
    health: str,
    timeout_s: float,
) -> str:
    """Start ``command`` detached (pid in NAME.pid, output in NAME.log); wait until it is healthy."""
    log_path = settings.home / f"{name}.log"
    process = subprocess.Popen(
        command, env=env, stdout=log_path.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
    )
    (settings.home / f"{name}.pid").write_text(str(process.pid))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{label} stopped while starting; see {log_path}")
        if _ready(url, health):
            return url
        time.sleep(0.5)
    raise SystemExit(f"{label} was not ready after {timeout_s:.0f} s; see {log_path}")


def start_ui(settings: Settings, host: str, port: int, api_url: str, timeout_s: float = 120) -> str:
    """Start the chat detached (unless it runs), with the persona picker, and wait until it answers."""
    url = f"http://{host}:{port}"
    pid_file = settings.home / "ui.pid"
    health = "/_stcore/health"
    if _alive(pid_file) and _ready(url, health):
        return url
    if _ready(url, health):
        raise SystemExit(f"port {port} is taken by another Streamlit app; stop it or set EKA_UI_PORT")
    env = ui_env(api_url, demo_keys=(settings.home / "demo-keys.json").resolve())
    return _launch(settings, "ui", "the chat", streamlit_command(port, host), env, url, health, timeout_s)


def stop(settings: Settings) -> None:
    """Stop the processes ``start`` started."""
    for name in ("api", "ui"):
        pid_file = settings.home / f"{name}.pid"
        pid = _alive(pid_file)
        if pid is not None:
            os.killpg(pid, signal.SIGTERM)
            print(f"stopped the {name} (pid {pid})")
        pid_file.unlink(missing_ok=True)


def main(argv: list[str]) -> None:
    settings = Settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    if argv[:1] == ["stop"]:
        stop(settings)
        return
    host = os.environ.get("EKA_API_HOST", "127.0.0.1")
    port = int(os.environ.get("EKA_API_PORT", "8000"))
    keys = demo_keys(settings)
    url = start_api(settings, host, port)
    chat = start_ui(settings, host, int(os.environ.get("EKA_UI_PORT", "8501")), url)
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
