"""``eka ui``: the Streamlit chat (``ui/app.py``) in front of a running answer service.

The chat talks to the API over HTTP only; this command just starts ``streamlit run`` on loopback with the
API's URL (and optionally a key, for a single-user local session) in ``EKA_UI_*`` environment variables.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer

from assistant.config import Settings
from eka.ports import in_use, taken

APP = Path(__file__).resolve().parent.parent / "ui" / "app.py"


def streamlit_command(port: int, host: str = "127.0.0.1") -> list[str]:
    """The ``streamlit run`` command line of the chat on ``host:port`` (headless, no usage statistics)."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.showErrorDetails",
        "none",
        "--client.toolbarMode",
        "minimal",
    ]


def ui_env(
    api_url: str,
    api_key: str | None = None,
    demo_keys: Path | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The chat's environment: ``base`` (default: this process's) plus its ``EKA_UI_*`` settings."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith("EKA_UI_")}
    env["EKA_UI_API_URL"] = api_url
    if api_key:
        env["EKA_UI_API_KEY"] = api_key
    if demo_keys is not None:
        env["EKA_UI_DEMO_KEYS"] = str(demo_keys)
    return env


def ui(
    port: Annotated[
        int | None,
        typer.Option(help="Port of the chat (on 127.0.0.1) [default: EKA_UI_PORT, 8501].", min=1, max=65535),
    ] = None,
    api_url: Annotated[
        str | None,
        typer.Option(help="URL of the answer service (`eka serve`) [default: EKA_API_HOST:EKA_API_PORT]."),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(help="Sign the chat in with this key (a single-user local session); otherwise it asks."),
    ] = None,
) -> None:
    """Run the chat UI (Streamlit) against the answer service. Open the printed URL in a browser."""
    try:
        import streamlit  # noqa: F401 - only to fail early with a clear message
    except ImportError as err:
        typer.echo("error: the chat needs streamlit: pip install 'streamlit>=1.67.0'", err=True)
        raise typer.Exit(2) from err
    settings = Settings()
    port = port or settings.ui_port
    api_url = api_url or f"http://{settings.api_host}:{settings.api_port}"
    if in_use("127.0.0.1", port):
        typer.echo(f"error: {taken('127.0.0.1', port, 'EKA_UI_PORT')}, or use --port", err=True)
        raise typer.Exit(1)
    typer.echo(f"eka chat on http://127.0.0.1:{port} (API: {api_url}); Ctrl+C stops it")
    try:
        code = subprocess.call(streamlit_command(port), env=ui_env(api_url, api_key))
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``eka ui`` to the ``eka`` command."""
    app.command("ui")(ui)
