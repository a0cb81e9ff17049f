"""The database going away mid-run: `eka serve` answers 503 with a clear message, stays up, and serves again
once the database is back.

The test runs its own PostgreSQL server (not the session's, which other tests share) so that it can stop it
(``pg_ctl stop -m fast``: the service's pooled connections are cut) and start it again on the same socket.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.pg import PgServer
from tests.server import Server, create_key, start_server

pytestmark = pytest.mark.e2e

RECOVERY_WAIT_S = 60.0  # how long the test waits for /readyz after the database is back (not a requirement)


@pytest.fixture
def own_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    server = PgServer(tmp_path_factory.mktemp("pg-outage"))
    yield server
    server.close()


def check_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["error"] == "database_unavailable" and "database cannot be reached" in body["detail"]
    assert int(response.headers["retry-after"]) >= 1
    assert "postgresql://" not in response.text and "Traceback" not in response.text


def test_an_unreachable_database_gives_503_and_the_server_recovers(
    tmp_path: Path, own_postgres: PgServer
) -> None:
    url = own_postgres.fresh()
    persona = create_key(tmp_path, "user", "una", "public", database_url=url)
    server: Server = start_server("outage", tmp_path, database_url=url, rate_limit_per_minute="1000000")
    try:
        with httpx.Client(base_url=server.url, headers=persona.headers, timeout=60) as client:
            assert client.get("/v1/me").status_code == 200
            assert client.post("/v1/search", json={"query": "brake pads"}).status_code == 200

            own_postgres.stop()
            check_unavailable(client.get("/readyz"))
            started = time.monotonic()
            check_unavailable(client.get("/v1/me"))  # the key is looked up in the database
            refused_after = time.monotonic() - started
            check_unavailable(client.post("/v1/search", json={"query": "brake pads"}))
            assert client.get("/healthz").status_code == 200  # the process itself is alive
            assert server.process.poll() is None

            own_postgres.start()
            back = time.monotonic()
            while client.get("/readyz").status_code != 200:
                assert time.monotonic() < back + RECOVERY_WAIT_S, (
                    "not ready again after the database came back"
                )
                time.sleep(0.5)
            print(
                f"\n503 after {refused_after:.2f} s; ready {time.monotonic() - back:.2f} s after the restart"
            )
            assert client.get("/readyz").json() == {"status": "ready", "backend": "postgres"}
            assert client.get("/v1/me").status_code == 200
            searched = client.post("/v1/search", json={"query": "brake pads"})
            assert searched.status_code == 200, searched.text
    finally:
        server.stop()
    log = server.log_tail(200_000)
    assert "database unavailable" in log and "unhandled error" not in log, log[-4000:]
