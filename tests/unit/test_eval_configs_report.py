import pytest

from assistant.config import Settings
from eval.configs import resolve
from eval.report import markdown


def test_configs_resolve_with_overrides() -> None:
    base = Settings(_env_file=None)  # type: ignore[call-arg]
    configs = resolve("default,lexical,hybrid@dense_weight=0.3@fusion=rrf,langchain-naive", base)
    assert [c.name for c in configs] == [
        "default",
        "lexical",
        "hybrid@dense_weight=0.3@fusion=rrf",
        "langchain-naive",
    ]
    tuned = configs[2].settings(base)
    assert tuned.dense_weight == 0.3 and tuned.fusion == "rrf"
    assert configs[1].mode == "lexical" and configs[3].kind == "langchain"
    with pytest.raises(ValueError, match="unknown configuration"):
        resolve("fancy", base)
    with pytest.raises(ValueError, match="bad override"):
        resolve("hybrid@nosuchsetting=1", base)
    with pytest.raises(ValueError):
        resolve("hybrid@dense_weight=7", base)[0].settings(base)


def test_markdown_table_marks_the_best_value_per_column() -> None:
    def cfg(ndcg: float, p50: float) -> dict[str, object]:
        return {
            "metrics": {"ndcg@10": ndcg, "recall@1": 0.5},
            "queries": 3,
            "latency_ms": {"p50": p50, "p95": p50},
            "index_build_s": 1.0,
        }

    report = {
        "dataset": "d",
        "git_commit": "abc",
        "corpus_sha256": "f00",
        "configs": {"a": cfg(0.7, 9.0), "b": cfg(0.8, 2.0)},
    }
    text = markdown(report)
    assert "| b | **0.800** |" in text and "| a | 0.700 |" in text
    assert "**2.0 / 2.0**" in text
