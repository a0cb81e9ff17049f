"""The API's mapping of database failures: a lost connection or an exhausted pool is a 503 with a clear
message and Retry-After, never a 500, and the driver's message (hosts, users) stays in the log."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg_pool import PoolTimeout

from assistant.api.app import create_app
from assistant.config import Settings

FAILURES = {
    "lost": psycopg.OperationalError("server closed the connection unexpectedly (host=db.internal user=eka)"),
    "pool": PoolTimeout("couldn't get a connection after 5.00 sec"),
    "cancelled": psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_a_database_failure_is_a_503_without_the_drivers_message(tmp_path: Path, failure: str) -> None:
    app = create_app(Settings(home=tmp_path, _env_file=None))  # type: ignore[call-arg]

    def fail() -> None:
        raise FAILURES[failure]

    app.add_api_route("/fail", fail)
    response = TestClient(app, raise_server_exceptions=False).get("/fail")  # no lifespan: nothing is built
    assert response.status_code == 503
    assert response.json() == {
        "error": "database_unavailable",
        "detail": "the database cannot be reached; try again shortly",
    }
    assert response.headers["retry-after"] == "5"
