"""The composition root opens the store the settings select: SQLite by default, PostgreSQL for a URL."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from assistant.app import open_store
from assistant.config import Settings
from assistant.errors import ConfigError
from assistant.pg.store import PgStore
from assistant.sqlite_store import SQLiteStore
from tests.pg import PgServer


def test_open_store_without_database_url_opens_the_embedded_store_under_home(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, _env_file=None)  # type: ignore[call-arg]
    store = open_store(settings)
    try:
        assert isinstance(store, SQLiteStore)
        assert settings.store_path.is_file()
        assert store.generation() == 0
    finally:
        store.close()


def test_a_database_url_from_the_environment_opens_the_postgresql_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_url: str
) -> None:
    monkeypatch.setenv("EKA_DATABASE_URL", pg_url)
    settings = Settings(home=tmp_path, _env_file=None)  # type: ignore[call-arg]
    store = open_store(settings)
    assert isinstance(store, PgStore)
    assert store.generation() == 0
    assert not settings.store_path.exists()  # nothing written under EKA_HOME


def test_an_unreachable_database_is_a_clear_configuration_error(tmp_path: Path) -> None:
    url = f"postgresql://eka@/eka?host={tmp_path / 'no-server-here'}"
    settings = Settings(home=tmp_path, database_url=url, _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="cannot connect to EKA_DATABASE_URL"):
        open_store(settings)
    assert not settings.store_path.exists()  # no silent fallback to SQLite


def test_a_database_without_the_schema_is_refused_until_upgraded(tmp_path: Path, pg_server: PgServer) -> None:
    url = pg_server.empty()
    try:
        settings = Settings(home=tmp_path, database_url=url, _env_file=None)  # type: ignore[call-arg]
        with pytest.raises(ConfigError, match="eka db upgrade"):
            open_store(settings)
        with psycopg.connect(url) as conn:  # and nothing was created behind the caller's back
            assert conn.execute("SELECT to_regclass('public.documents')").fetchone() == (None,)
    finally:
        pg_server.drop(url)
