"""The answer regression gate: the extractive answers to samples/questions.jsonl, scored by key facts.

``python -m eval.answers.baseline`` prints the current numbers and any regression against
``eval/answer_baselines.json``; ``--update`` rewrites that file (a deliberate change that goes through review,
like ``eval/baselines.json`` for retrieval). The test suite fails when the share of correct answers or the
refusal accuracy drops by more than ``TOLERANCE``, the false-refusal rate rises by more, or one more answer is
about the wrong entity.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from assistant.config import Settings
from eval.answers.harness import evaluate_answers

ROOT = Path(__file__).resolve().parent.parent.parent
BASELINES = ROOT / "eval" / "answer_baselines.json"
QUESTIONS = ROOT / "samples" / "questions.jsonl"
CORPUS = ROOT / "samples"
GENERATOR = "extractive"
TOLERANCE = 0.02  # two points: on the 33 answerable sample questions, any one answer changing fails
HIGHER_IS_BETTER = ("correct_rate", "refusal_accuracy")
LOWER_IS_BETTER = ("false_refusal_rate",)
COUNTS = ("wrong_entity",)  # may not rise at all


def measure(cache_dir: Path | None = None) -> dict[str, Any]:
    """The extractive generator's summary on the sample questions (a fresh index unless ``cache_dir``)."""
    with tempfile.TemporaryDirectory(prefix="eka-answer-baseline-") as tmp:
        base = Settings(home=Path(tmp) / "home")
        report = evaluate_answers(
            QUESTIONS,
            CORPUS,
            [GENERATOR],
            None,
            base,
            cache_dir or Path(tmp) / "cache",
            Path(tmp) / "out",
            progress=lambda _: None,
        )
    summary: dict[str, Any] = report["generators"][GENERATOR]["summary"]
    return summary


def tracked(summary: dict[str, Any]) -> dict[str, Any]:
    """The numbers the gate holds, from a summary."""
    return {k: summary[k] for k in (*HIGHER_IS_BETTER, *LOWER_IS_BETTER, *COUNTS, "correct", "answerable")}


def regressions(summary: dict[str, Any], baselines: dict[str, Any]) -> list[str]:
    """Every tracked number worse than its baseline beyond the tolerance, as readable lines."""
    expected = baselines["numbers"]
    tolerance = baselines.get("tolerance", TOLERANCE)
    problems = []
    for key in HIGHER_IS_BETTER:
        if summary[key] < expected[key] - tolerance:
            problems.append(f"{key}: {summary[key]:.3f} < baseline {expected[key]:.3f} - {tolerance}")
    for key in LOWER_IS_BETTER:
        if summary[key] > expected[key] + tolerance:
            problems.append(f"{key}: {summary[key]:.3f} > baseline {expected[key]:.3f} + {tolerance}")
    for key in COUNTS:
        if summary[key] > expected[key]:
            problems.append(f"{key}: {summary[key]} > baseline {expected[key]} ({summary.get(key + '_ids')})")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--update", action="store_true", help="rewrite eval/answer_baselines.json with these numbers"
    )
    args = parser.parse_args()
    summary = measure()
    current = {
        "dataset": "samples/questions.jsonl",
        "generator": GENERATOR,
        "tolerance": TOLERANCE,
        "numbers": tracked(summary),
    }
    print(json.dumps(current, indent=2))
    if BASELINES.exists():
        problems = regressions(summary, json.loads(BASELINES.read_text()))
        print("\n".join(problems) if problems else f"no regressions against {BASELINES.name}")
    if args.update:
        BASELINES.write_text(json.dumps(current, indent=2) + "\n")
        print(f"wrote {BASELINES}")


if __name__ == "__main__":
    main()
