"""The evaluation harness on real components, and the regression gate on the sample questions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.config import Settings
from eval.baseline import BASELINES, measure, regressions
from eval.configs import resolve
from eval.datasets import QAEntry, QAItem, load_beir
from eval.report import write
from eval.runner import corpus_digest, evaluate_beir, evaluate_qa
from eval.systems import IncompleteCorpus

pytestmark = pytest.mark.integration

DOCS = {
    "d1": (
        "Brake pad wear sensor",
        "The two-stage pad wear sensor warns at 3 mm and at 2 mm remaining lining.",
    ),
    "d2": ("Coolant pump", "The electric coolant pump runs at 3000 rpm when the inverter exceeds 65 C."),
    "d3": ("Wheel nut torque", "Wheel nuts of the KV-4 van are tightened to 460 Nm in a star pattern."),
    "d4": ("Cabin filter", "Replace the cabin air filter every 30000 km or two years."),
    "d5": ("CAN timeout", "DTC U0121 is stored when no message from the ABS module arrives for 500 ms."),
}
QUERIES = {
    "q1": "When does the pad wear sensor warn?",
    "q2": "Which DTC means lost communication with ABS?",
    "q3": "wheel nut tightening torque for the van",
}
QRELS = {"q1": "d1", "q2": "d5", "q3": "d3"}


def tiny_beir(folder: Path) -> Path:
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": k, "title": t, "text": x}) + "\n" for k, (t, x) in DOCS.items())
    )
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in QUERIES.items())
    )
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, d in QRELS.items())
    )
    return folder


def test_beir_evaluation_compares_configs_and_caches_indexes(tmp_path: Path) -> None:
    dataset = load_beir(tiny_beir(tmp_path / "tiny"))
    base = Settings(home=tmp_path / "home", _env_file=None)  # type: ignore[call-arg]
    configs = resolve("default,lexical,dense,hybrid,langchain-naive", base)
    report = evaluate_beir(dataset, configs, base, tmp_path / "cache")
    assert set(report["configs"]) == {"default", "lexical", "dense", "hybrid", "langchain-naive"}
    for name, cfg in report["configs"].items():
        assert cfg["queries"] == 3
        assert set(cfg["metrics"]) == {
            "ndcg@10",
            "recall@1",
            "recall@5",
            "recall@10",
            "recall@100",
            "mrr@10",
            "map@100",
        }
        assert cfg["metrics"]["recall@5"] == 1.0, name  # five documents: everything is in the top 5
        assert cfg["latency_ms"]["p95"] >= cfg["latency_ms"]["p50"] > 0
    assert report["configs"]["hybrid"]["metrics"]["mrr@10"] == 1.0
    assert not report["configs"]["default"]["index_cached"]
    again = evaluate_beir(dataset, resolve("hybrid", base), base, tmp_path / "cache")
    assert again["configs"]["hybrid"]["index_cached"]
    files = write(report, tmp_path / "out")
    assert {f.name for f in files} == {"report.json", "report.md", "recall_at_k.png"}
    assert (tmp_path / "out" / "recall_at_k.png").read_bytes()[:4] == b"\x89PNG"


def test_every_config_encodes_its_own_questions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Latencies compare across configs: none of them finds its questions already encoded by an earlier
    one (the embedder's query cache is emptied before each)."""
    from assistant.embedding import SentenceTransformerEmbedder

    encoded: list[str] = []
    real = SentenceTransformerEmbedder._encode

    def counting(self: SentenceTransformerEmbedder, texts: list[str], prefix: str, *rest: object) -> object:
        if prefix == self.spec.query_prefix and set(texts) <= set(QUERIES.values()):
            encoded.extend(texts)
        return real(self, texts, prefix, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(SentenceTransformerEmbedder, "_encode", counting)
    dataset = load_beir(tiny_beir(tmp_path / "tiny"))
    base = Settings(home=tmp_path / "home", _env_file=None)  # type: ignore[call-arg]
    evaluate_beir(dataset, resolve("dense,hybrid", base), base, tmp_path / "cache")
    assert sorted(encoded) == sorted(list(QUERIES.values()) * 2)


def test_a_corpus_file_that_fails_to_ingest_stops_the_evaluation(tmp_path: Path) -> None:
    """Scores over the rest of a corpus are not comparable with any other run: no report, a clear error."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "wheels.md").write_text("# Wheel nuts\n\nWheel nuts of the KV-4 van take 460 Nm.\n")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7\nthis is not a PDF body\n")
    (corpus / "MANIFEST.sha256").write_text("0" * 64 + "  wheels.md\n")  # not a document: no failure
    item = QAItem("q1", "identifier", "What torque for the KV-4 wheel nuts?", "460 Nm", True, "any")
    item.relevant.append(QAEntry("wheels.md", None, None, "460 Nm"))
    base = Settings(home=tmp_path / "home", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(IncompleteCorpus, match=r"1 corpus file\(s\) failed to ingest.*broken\.pdf") as err:
        evaluate_qa(
            [item], corpus, corpus_digest(corpus), resolve("default", base), base, tmp_path / "c", "t"
        )
    assert err.value.failures and err.value.failures[0].startswith("broken.pdf: ")


def test_sample_questions_do_not_regress() -> None:
    """The gate: any tracked metric more than 2 points below eval/baselines.json fails the build."""
    baselines = json.loads(BASELINES.read_text())
    report = measure(",".join(baselines["configs"]))
    assert regressions(report, baselines) == []
