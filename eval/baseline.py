"""The regression gate: current numbers on samples/questions.jsonl, and the check against them.

``python -m eval.baseline`` prints the current numbers; ``--update`` rewrites ``eval/baselines.json`` (a
deliberate change that goes through review like any other).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from assistant.config import Settings
from eval.configs import resolve
from eval.datasets import load_qa
from eval.runner import corpus_digest, evaluate_qa

ROOT = Path(__file__).resolve().parent.parent
BASELINES = Path(__file__).resolve().parent / "baselines.json"
QUESTIONS = ROOT / "samples" / "questions.jsonl"
CORPUS = ROOT / "samples"
TRACKED = ("ndcg@10", "recall@1", "recall@5", "recall@10", "mrr@10", "map@100")
TOLERANCE = 0.02  # two points


def measure(configs: str = "default", cache_dir: Path | None = None) -> dict[str, Any]:
    """Evaluate the sample questions with the given configurations."""
    with tempfile.TemporaryDirectory(prefix="eka-baseline-") as tmp:
        base = Settings(home=Path(tmp) / "home")
        return evaluate_qa(
            load_qa(QUESTIONS),
            CORPUS,
            corpus_digest(CORPUS),
            resolve(configs, base),
            base,
            cache_dir or Path(tmp) / "cache",
            "samples",
        )


def regressions(report: dict[str, Any], baselines: dict[str, Any]) -> list[str]:
    """Every tracked metric more than ``TOLERANCE`` below its baseline, as readable lines."""
    problems = []
    for config, expected in baselines["configs"].items():
        actual = report["configs"].get(config)
        if actual is None:
            problems.append(f"{config}: not evaluated")
            continue
        for metric, floor in expected.items():
            value = actual["metrics"][metric]
            if value < floor - TOLERANCE:
                problems.append(f"{config} {metric}: {value:.3f} < baseline {floor:.3f} - {TOLERANCE}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--update", action="store_true", help="rewrite eval/baselines.json with these numbers"
    )
    args = parser.parse_args()
    report = measure()
    current = {
        "dataset": "samples/questions.jsonl",
        "tolerance": TOLERANCE,
        "configs": {
            name: {m: round(cfg["metrics"][m], 4) for m in TRACKED} for name, cfg in report["configs"].items()
        },
    }
    print(json.dumps(current, indent=2))
    if BASELINES.exists():
        problems = regressions(report, json.loads(BASELINES.read_text()))
        print("\n".join(problems) if problems else "no regressions against eval/baselines.json")
    if args.update:
        BASELINES.write_text(json.dumps(current, indent=2) + "\n")
        print(f"wrote {BASELINES}")


if __name__ == "__main__":
    main()
