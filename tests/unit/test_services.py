"""The composition of the shared services: SQLite files under home by default, PostgreSQL for a database URL
(a real server), and a clear refusal of a database whose schema is not this version's."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.audit import SQLiteAuditLog
from assistant.config import Settings
from assistant.errors import ConfigError
from assistant.keys import SQLiteKeyStore
from assistant.pg.audit import PgAuditLog
from assistant.pg.keys import PgKeyStore
from assistant.pg.ratelimit import PgRateLimiter
from assistant.ratelimit import SQLiteRateLimiter
from assistant.services import open_audit, open_keys, open_limiter
from tests.pg import PgServer


def _settings(home: Path, url: str | None = None) -> Settings:
    return Settings(home=home, database_url=url, rate_limit_per_minute=1, _env_file=None)  # type: ignore[call-arg]


def test_without_a_database_url_the_services_are_sqlite_files_under_home(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    keys, audit, limiter = open_keys(settings), open_audit(settings), open_limiter(settings)
    try:
        assert isinstance(keys, SQLiteKeyStore) and isinstance(audit, SQLiteAuditLog)
        assert isinstance(limiter, SQLiteRateLimiter)
        assert {p.name for p in tmp_path.glob("*.sqlite3")} == {
            "keys.sqlite3",
            "audit.sqlite3",
            "ratelimit.sqlite3",
        }
    finally:
        for service in (keys, audit, limiter):
            service.close()


def test_a_database_url_puts_every_service_in_postgresql(tmp_path: Path, pg_url: str) -> None:
    settings = _settings(tmp_path, pg_url)
    keys, audit, limiter = open_keys(settings), open_audit(settings), open_limiter(settings)
    assert isinstance(keys, PgKeyStore) and isinstance(audit, PgAuditLog)
    assert isinstance(limiter, PgRateLimiter) and limiter.per_minute == 1
    record, secret = keys.create("ann", ["battery"])
    assert open_keys(settings).authenticate(secret) == record
    audit.append("ann", {"question": "pad wear?"})
    assert open_audit(settings).verify().records == 1
    limiter.take(record.key_id)
    assert list(tmp_path.iterdir()) == []  # nothing written under home


def test_a_database_without_this_versions_schema_is_refused_with_the_fix(
    tmp_path: Path, pg_server: PgServer
) -> None:
    url = pg_server.empty()
    try:
        for open_ in (open_keys, open_audit, open_limiter):
            with pytest.raises(ConfigError, match="eka db upgrade"):
                open_(_settings(tmp_path, url))
    finally:
        pg_server.drop(url)
