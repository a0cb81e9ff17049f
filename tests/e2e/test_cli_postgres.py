"""``eka keys`` and ``eka audit`` with ``EKA_DATABASE_URL``: real processes and a real PostgreSQL server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pg import PgServer
from tests.server import eka_env

pytestmark = pytest.mark.e2e


def eka(home: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eka", *args],
        env=eka_env(home, database_url=url),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_keys_are_created_listed_and_revoked_in_the_database(tmp_path: Path, pg_url: str) -> None:
    made = eka(tmp_path, pg_url, "keys", "create", "--user", "ann", "--groups", "Battery", "--json")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)
    assert key["user"] == "ann" and key["groups"] == ["battery"] and key["key"].startswith("eka_")
    listed = json.loads(eka(tmp_path, pg_url, "keys", "list", "--json").stdout)
    assert [k["key_id"] for k in listed] == [key["key_id"]] and "key" not in listed[0]
    revoked = eka(tmp_path, pg_url, "keys", "revoke", "ann")
    assert revoked.returncode == 0 and key["key_id"] in revoked.stdout
    assert json.loads(eka(tmp_path, pg_url, "keys", "list", "--json").stdout) == []
    again = eka(tmp_path, pg_url, "keys", "revoke", "ann")
    assert again.returncode == 1 and "no active key" in again.stderr
    assert list(tmp_path.iterdir()) == []  # nothing under EKA_HOME: it all went to the database


def test_audit_verify_walks_the_chain_in_the_database(tmp_path: Path, pg_url: str) -> None:
    result = eka(tmp_path, pg_url, "audit", "verify")
    assert result.returncode == 0, result.stderr
    assert "0 records, chain intact" in result.stdout
    missing = eka(tmp_path, pg_url, "audit", "show", "ans_missing")
    assert missing.returncode == 1 and "no answer record" in missing.stderr


def test_a_database_that_was_not_upgraded_gets_a_clear_error(tmp_path: Path, pg_server: PgServer) -> None:
    url = pg_server.empty()
    try:
        for args in (("keys", "list"), ("audit", "verify")):
            result = eka(tmp_path, url, *args)
            assert result.returncode == 2, result.stderr
            assert "eka db upgrade" in result.stderr and "Traceback" not in result.stderr
    finally:
        pg_server.drop(url)
