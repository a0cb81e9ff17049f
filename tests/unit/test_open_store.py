"""The composition root opens the store the settings select: SQLite by default, none for a database URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.app import build_assistant, open_store
from assistant.config import Settings
from assistant.errors import ConfigError
from assistant.sqlite_store import SQLiteStore


def test_open_store_without_database_url_opens_the_embedded_store_under_home(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, _env_file=None)  # type: ignore[call-arg]
    store = open_store(settings)
    try:
        assert isinstance(store, SQLiteStore)
        assert settings.store_path.is_file()
        assert store.generation() == 0
    finally:
        store.close()


def test_database_url_from_the_environment_is_refused_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EKA_DATABASE_URL", "postgresql://eka@localhost/eka")
    settings = Settings(home=tmp_path, _env_file=None)  # type: ignore[call-arg]
    assert settings.database_url == "postgresql://eka@localhost/eka"
    with pytest.raises(
        ConfigError, match="EKA_DATABASE_URL is set, but this version of eka has no PostgreSQL "
    ):
        open_store(settings)
    assert not settings.store_path.exists()  # no silent fallback to SQLite


def test_build_assistant_refuses_a_database_url_before_loading_anything(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, database_url="postgresql://eka@db/eka", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="no PostgreSQL backend"):
        build_assistant(settings)
    assert not settings.store_path.exists()
