"""``eka db`` as an operator runs it: a real process against real PostgreSQL, exit codes, output."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from assistant.pg import migrate
from tests.pg import PgServer

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def eka_db(cwd: Path, database_url: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "EKA_DATABASE_URL"}
    env.update({"EKA_HOME": str(cwd / "home"), "COLUMNS": "200", "PYTHONPATH": str(ROOT)})
    if database_url is not None:
        env["EKA_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "eka", "db", *args],
        env=env,
        cwd=cwd,  # no .env of the checkout
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def empty_url(pg_server: PgServer) -> Iterator[str]:
    """A database with no schema at all, dropped afterwards."""
    url = pg_server.empty()
    yield url
    pg_server.drop(url)


def test_without_a_database_url_both_commands_exit_2_with_a_clear_message(tmp_path: Path) -> None:
    for command in ("upgrade", "status"):
        result = eka_db(tmp_path, None, command)
        assert result.returncode == 2
        assert "EKA_DATABASE_URL is not set" in result.stderr


def test_status_then_upgrade_then_status_on_an_empty_database(tmp_path: Path, empty_url: str) -> None:
    names = [f"{m.version:04d}_{m.name}" for m in migrate.migrations()]
    before = eka_db(tmp_path, empty_url, "status")
    assert before.returncode == 1, before.stderr
    assert all(f"{name}  pending" in before.stdout for name in names)
    assert "run `eka db upgrade`" in before.stdout

    upgrade = eka_db(tmp_path, empty_url, "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    assert [line for line in upgrade.stdout.splitlines() if line.startswith("applied")] == [
        f"applied {name}" for name in names
    ]
    with psycopg.connect(empty_url) as conn:
        assert [v for (v,) in conn.execute("SELECT version FROM schema_migrations ORDER BY version")] == [
            m.version for m in migrate.migrations()
        ]
        assert conn.execute("SELECT generation FROM store_state").fetchone() == (0,)

    after = eka_db(tmp_path, empty_url, "status")
    assert after.returncode == 0, after.stderr
    assert all(f"{name}  applied" in after.stdout for name in names)
    assert "up to date" in after.stdout

    again = eka_db(tmp_path, empty_url, "upgrade")
    assert again.returncode == 0 and "nothing applied" in again.stdout


def test_status_reports_an_applied_migration_that_was_edited(tmp_path: Path, pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        conn.execute("UPDATE schema_migrations SET sha256 = 'edited' WHERE version = 1")
    result = eka_db(tmp_path, pg_url, "status")
    assert result.returncode == 1
    assert "migration 0001 differs from the one applied" in result.stderr
