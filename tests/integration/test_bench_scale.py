"""``eka bench scale`` on a tiny store: the synthetic corpus goes through the real ingest path, takes its
vectors from the pool (not the model), has the access lists it promises, and the report holds every figure."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.rerank import passage_heading
from assistant.sqlite_store import SQLiteStore
from eval.bench import scale
from tests.conftest import SAMPLES


def test_reroll_keeps_the_shape_of_every_number() -> None:
    rng = np.random.default_rng(1)
    text = "Torque 45 Nm, gap 0.35 mm, part NMG-8E2-381 rev 7."
    rolled = scale._reroll(text, rng)
    assert rolled != text
    assert re.sub(r"\d", "9", rolled) == re.sub(r"\d", "9", text)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, object], Path, Path]:
    work = tmp_path_factory.mktemp("scale-work")
    out = tmp_path_factory.mktemp("scale-out")
    result = scale.run(
        [300], work, out, [SAMPLES], queries=4, uploads=1, qps=False, workers=[1], seconds=1, rebuild=True
    )
    return result, work, out


def test_the_corpus_is_ingested_with_pool_vectors_and_its_access_lists(
    report: tuple[dict[str, object], Path, Path],
) -> None:
    result, work, _ = report
    size = result["sizes"][0]  # type: ignore[index]
    built = size["build"]
    assert built["documents"] == 3 and built["failed_files"] == 0
    assert 290 <= built["chunks"] <= 320
    # Every synthetic passage took a pool vector: the model embedded none of them.
    assert built["vectors_from_pool"] == built["chunks"]
    store = SQLiteStore(Settings(home=work / "300" / "eka", _env_file=None).store_path)  # type: ignore[call-arg]
    try:
        # So did every numbered section heading (ingest embeds headings for the heading reranker).
        headings = {passage_heading(p) for p in store.index_rows().passages}
        # (the benchmark's uploads, made after the build, are real text for the real model)
        numbered = {h for h in headings if scale.SECTION_NUMBER.match(h) and "Bench upload" not in h}
        assert numbered and built["heading_vectors_from_pool"] == len(numbered)
        acls = {s.document.title.rsplit(" ", 1)[-1]: s.document.acl for s in store.documents()}
        metadata = {s.document.title.rsplit(" ", 1)[-1]: s.document.metadata for s in store.documents()}
    finally:
        store.close()
    assert acls["ENG-000000"] == {"staff", "tenth", "hundredth"}
    assert acls["ENG-000001"] == {"staff"}
    assert metadata["ENG-000001"]["brand"] == "Aurelis" and metadata["ENG-000002"]["brand"] == "Kestrel"


def test_pool_vectors_stay_near_their_real_passage_and_are_deterministic(
    report: tuple[dict[str, object], Path, Path],
) -> None:
    _, work, _ = report
    embedder = scale.PoolEmbedder(Settings(home=work / "x", _env_file=None))  # type: ignore[call-arg]
    embedder.pool = pool = scale.load_pool([SAMPLES], work, embedder)
    text, _ = scale.document_text(pool, 7)
    title = text.splitlines()[0].lstrip("# ")
    heading = next(line for line in text.splitlines() if line.startswith("## 12. "))[3:]
    passage = f"{title} | {title} > {heading}\nsome text"
    first, second = embedder.embed_passages([passage, passage])
    assert np.allclose(first, second) and abs(float(np.linalg.norm(first)) - 1.0) < 1e-5
    cosine = float(first @ pool.vectors[pool.pick(7, 12)])
    assert 0.85 < cosine < 0.93
    assert embedder.synthetic == 2


def test_the_report_has_every_figure(report: tuple[dict[str, object], Path, Path]) -> None:
    result, _, out = report
    size = result["sizes"][0]  # type: ignore[index]
    cases = {(c["mode"], c["reader"]) for c in size["search"]}
    assert cases == {(m, r) for m in scale.MODES for r in scale.READERS} | {("hybrid", "100% + filter 99%")}
    assert all(c["n"] == 4 and 0 < c["p50_ms"] <= c["p95_ms"] for c in size["search"])
    assert size["dense_recall_at_10"] == {"1%": 1.0, "10%": 1.0, "100%": 1.0}  # the index is exact here
    assert size["upload"]["returned_to_searchable_seconds"][0] >= 0
    assert size["upload"]["peak_over_steady"] >= 1.0
    assert json.loads((out / "report.json").read_text())["sizes"][0]["size"] == 300
    assert "hybrid (default), 1%" in (out / "report.md").read_text()
    assert (out / "scale.png").stat().st_size > 10_000
