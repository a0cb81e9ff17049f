"""The ``eka`` command as a user runs it: real processes, real files, exit codes and JSON output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from tests.factories import truncated_pdf

pytestmark = pytest.mark.e2e


def eka(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EKA_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "eka", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cli-home")
    report = home / "report.json"
    result = eka(home, "ingest", str(SAMPLES), "--report", str(report))
    assert result.returncode == 0, result.stderr
    data = json.loads(report.read_text())
    assert data["ok"] and data["counts"]["ingested"] == 13 and data["counts"]["failed"] == 0
    assert {f["status"] for f in data["files"]} == {"ingested"}
    return home


def test_search_json_has_the_documented_fields(home: Path) -> None:
    result = eka(home, "search", "pad wear sensor", "-k", "3", "--json")
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert len(hits) == 3
    for field in ("rank", "score", "doc_id", "source", "page", "section", "chunk_id", "text"):
        assert field in hits[0]
    assert hits[0]["source"] == "brakes/brake-system-design-spec.pdf" and hits[0]["page"] >= 1


def test_search_respects_groups_and_filters(home: Path) -> None:
    public = json.loads(eka(home, "search", "CSR-TEL-014", "--json", "--mode", "lexical").stdout)
    assert all(not h["source"].startswith("security/") for h in public)
    security = json.loads(
        eka(home, "search", "CSR-TEL-014", "--json", "--mode", "lexical", "--groups", "security").stdout
    )
    assert security[0]["source"] == "security/tcu-cybersecurity-requirements.pdf"
    filtered = json.loads(
        eka(
            home,
            "search",
            "torque",
            "--json",
            "--mode",
            "lexical",
            "--groups",
            "public,brand-kestrel",
            "--filter",
            "brand=Kestrel",
        ).stdout
    )
    assert filtered and {h["source"] for h in filtered} == {"chassis/kestrel-kv4-torque-specifications.pdf"}


def test_bad_options_give_a_clear_error(home: Path) -> None:
    result = eka(home, "search", "x", "--mode", "fuzzy")
    assert result.returncode != 0 and "--mode" in result.stderr
    result = eka(home, "search", "x", "--filter", "nokey")
    assert result.returncode != 0 and "KEY=VALUE" in result.stderr


def test_docs_list_stats_verify_and_remove(home: Path, tmp_path: Path) -> None:
    work = tmp_path / "home"
    shutil.copytree(home, work)
    docs = json.loads(eka(work, "docs", "list", "--json").stdout)
    assert len(docs) == 13 and all({"doc_id", "source", "acl", "chunks"} <= d.keys() for d in docs)
    stats = json.loads(eka(work, "index", "stats", "--json").stdout)
    assert stats["documents"] == 13 and stats["derived"]["dense"]["current"]
    assert eka(work, "index", "verify").returncode == 0
    removed = eka(work, "docs", "remove", "group/engineering-glossary.md")
    assert removed.returncode == 0, removed.stderr
    assert len(json.loads(eka(work, "docs", "list", "--json").stdout)) == 12
    assert eka(work, "docs", "remove", "no/such.md").returncode == 1
    rebuilt = eka(work, "index", "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "and 0 heading vectors" in rebuilt.stdout  # ingest made them all
    assert eka(work, "index", "verify").returncode == 0


def test_ingest_exits_1_when_a_file_fails_and_reports_why(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "ok.md").write_text("# Fine\n\nCoolant flow is 12 l/min.\n")
    truncated_pdf(root / "cut.pdf")
    report = tmp_path / "r.json"
    result = eka(tmp_path / "home", "ingest", str(root), "--report", str(report))
    assert result.returncode == 1
    assert "cut.pdf" in result.stderr and "truncated" in result.stderr
    files = {f["source"]: f for f in json.loads(report.read_text())["files"]}
    assert files["ok.md"]["status"] == "ingested"
    assert files["cut.pdf"]["status"] == "failed" and "truncated" in files["cut.pdf"]["reason"]
