"""The PostgreSQL server eval measures on: its buffer pool is sized and warmed as a running service's is."""

from __future__ import annotations

import os

import psycopg
import pytest

from assistant.app import Assistant
from eval import pg


@pytest.mark.parametrize(
    ("memory_gb", "expected_mb"), [(0.25, 128), (2, 512), (24, 6144), (64, 8192)], ids=str
)
def test_shared_buffers_is_a_quarter_of_memory_within_bounds(
    monkeypatch: pytest.MonkeyPatch, memory_gb: float, expected_mb: int
) -> None:
    pages = {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": int(memory_gb * 2**30 / 4096)}
    monkeypatch.setattr(os, "sysconf", lambda name: pages[name])
    assert pg.shared_buffers_mb() == expected_mb


def test_prewarm_loads_every_relation_searches_read(ingested_samples_pg: Assistant) -> None:
    url = ingested_samples_pg.settings.database_url
    assert url
    dim = ingested_samples_pg.embedder.dim
    warmed = pg.prewarm(url, dim)
    hnsw = f"chunks_embedding_hnsw_{dim}"
    assert {"chunks", "chunks_pkey", hnsw, "term_stats", "postings_pkey"} <= set(warmed["relations"])
    with psycopg.connect(url) as conn:
        sizes = conn.execute(
            "SELECT sum(pg_relation_size(r::regclass) / 8192) FROM unnest(%s::text[]) AS r",
            (warmed["relations"],),
        ).fetchone()
    assert sizes is not None and warmed["blocks"] == int(sizes[0]) > 0  # every block of them was read


def test_the_report_names_the_server_settings(ingested_samples_pg: Assistant) -> None:
    url = ingested_samples_pg.settings.database_url
    assert url
    settings = pg.server_settings(url)
    assert set(settings) == {"shared_buffers", "effective_cache_size", "work_mem", "server_version"}
    assert settings["server_version"].startswith("18")
