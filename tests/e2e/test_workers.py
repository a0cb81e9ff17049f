"""`eka serve --workers 2`: two processes on one port share the store, the keys and the rate limits.

Each request below goes out on a new connection, so the kernel spreads them over both workers; the server log
shows that two processes served. What one worker changes (an upload, a revoked key, a spent rate limit) holds
in the other at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server import Server, create_key, eka, start_server

pytestmark = pytest.mark.e2e

QUERY = {"query": "Vortex VX-3 bleed pressure"}
NOTE = b"# Vortex VX-3 damper\n\nThe Vortex VX-3 damper is bled at 7.5 bar for 90 seconds.\n"
ROUNDS = 12  # requests per check, each on its own connection


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    home = tmp_path_factory.mktemp("workers")
    server = start_server("workers", home, "--workers", "2", rate_limit_per_minute="30")
    yield server, home
    server.stop()


def fresh(
    server: Server, headers: dict[str, str], method: str, path: str, **kwargs: object
) -> httpx.Response:
    """One request on a connection of its own."""
    with httpx.Client(base_url=server.url, headers=headers, timeout=120) as client:
        return client.request(method, path, **kwargs)  # type: ignore[arg-type]


def test_two_worker_processes_serve(two_workers: tuple[Server, Path]) -> None:
    server, _ = two_workers
    started = re.findall(r"Started server process \[(\d+)\]", server.log_tail(200_000))
    assert len(set(started)) == 2, server.log_tail()


def test_an_upload_through_one_worker_is_found_through_every_worker(two_workers: tuple[Server, Path]) -> None:
    server, home = two_workers
    writer = create_key(home, "writer", "wanda", "fleet", "ingest")
    reader = create_key(home, "reader", "rolf", "fleet")
    uploaded = fresh(
        server,
        writer.headers,
        "POST",
        "/v1/documents",
        files={"files": ("vortex.md", NOTE, "text/markdown")},
        data={"groups": "fleet"},
    )
    assert uploaded.status_code == 200, uploaded.text
    doc_id = uploaded.json()["files"][0]["doc_id"]
    for _ in range(ROUNDS):
        hits = fresh(
            server, reader.headers, "POST", "/v1/search", json={"query": "Vortex VX-3 bleed pressure"}
        )
        assert hits.status_code == 200, hits.text
        assert hits.json()["hits"][0]["doc_id"] == doc_id
    assert fresh(server, writer.headers, "DELETE", f"/v1/documents/{doc_id}").status_code == 200
    for _ in range(ROUNDS):
        hits = fresh(
            server, reader.headers, "POST", "/v1/search", json={"query": "Vortex VX-3 bleed pressure"}
        )
        assert all(h["doc_id"] != doc_id for h in hits.json()["hits"])


def test_a_revoked_key_is_refused_by_every_worker(two_workers: tuple[Server, Path]) -> None:
    server, home = two_workers
    persona = create_key(home, "revoked", "rex")
    assert fresh(server, persona.headers, "GET", "/v1/me").status_code == 200
    assert eka(home, "keys", "revoke", persona.key_id).returncode == 0
    assert {fresh(server, persona.headers, "GET", "/v1/me").status_code for _ in range(ROUNDS)} == {401}


def test_the_rate_limit_holds_across_workers(two_workers: tuple[Server, Path]) -> None:
    """30 a minute for the key: of 45 requests sent within seconds, 30 pass (a bucket per worker would let
    up to 60 through), plus what refills meanwhile (one every 2 s)."""
    server, home = two_workers
    persona = create_key(home, "limited", "lim")
    codes = [fresh(server, persona.headers, "GET", "/v1/me").status_code for _ in range(45)]
    assert set(codes) == {200, 429}
    assert 30 <= codes.count(200) <= 33, codes
