"""The composition root opens the store the settings select: SQLite by default, PostgreSQL for a URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.app import build_assistant, open_store
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


def test_database_url_from_the_environment_opens_the_postgresql_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_url: str
) -> None:
    monkeypatch.setenv("EKA_DATABASE_URL", pg_url)
    settings = Settings(home=tmp_path, _env_file=None)  # type: ignore[call-arg]
    store = open_store(settings)
    assert isinstance(store, PgStore)
    assert store.generation() == 0 and store.check() == []
    assert not settings.store_path.exists()  # no SQLite file on the side


def test_a_database_without_the_schema_is_refused_with_the_command_that_fixes_it(
    tmp_path: Path, pg_server: PgServer
) -> None:
    url = pg_server.empty()
    try:
        settings = Settings(home=tmp_path, database_url=url, _env_file=None)  # type: ignore[call-arg]
        with pytest.raises(ConfigError, match="run `eka db upgrade`"):
            build_assistant(settings)
        assert not settings.store_path.exists()  # no silent fallback to SQLite
    finally:
        pg_server.drop(url)


def test_build_assistant_gives_the_postgresql_store_its_embedder_without_loading_it(
    tmp_path: Path, pg_url: str
) -> None:
    settings = Settings(home=tmp_path, database_url=pg_url, _env_file=None)  # type: ignore[call-arg]
    assistant = build_assistant(settings)
    try:
        assert isinstance(assistant.store, PgStore)
        assert assistant.store.embed_model == assistant.embedder.model_id == assistant.spec.model_id
        assert assistant.store.embed == assistant.embedder.embed_passages
        assert not assistant.embedder.loaded
    finally:
        assistant.close()
