"""Prompt-injection detector benchmark: precision and recall on a labelled set, false positives on corpora.

The set (``eval/data/injection-set.jsonl``) holds phrasings addressed to an AI (``injection``) and engineering
sentences that look like them (``benign``: "Ignore the first reading if ...", "Disregard the previous
revision ..."), in three splits by when they were written:
- ``dev``: written first; the rules of ``assistant.injection`` were written against it;
- ``heldout``: written after the rules and scored once (12 of 30 found, 0 false positives), then used to
  generalise the rules, so no longer held out;
- ``fresh``: written after that and never used to change a rule: the honest estimate for unseen phrasings.

The corpora are chunked exactly as ``eka ingest`` chunks them (same loaders, chunker and token budget), and
the false-positive rate is the share of chunks flagged. Nothing in them is meant for an AI, so every flagged
chunk is a false positive unless it is read and found to address one; flagged chunks are printed.

Usage:
    python -m eval.bench.injection samples ../shared/data/engineering-docs [--out eval-out/injection.json]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.embedding import TokenCounter, model_spec
from assistant.injection import matching_rule
from ingest.chunking import chunk_blocks
from ingest.discover import discover
from ingest.loaders import LoadError, load, supported

ROOT = Path(__file__).resolve().parents[2]
SET = ROOT / "eval" / "data" / "injection-set.jsonl"


def read_set(path: Path = SET) -> list[dict[str, str]]:
    """The labelled phrasings: ``text``, ``label`` (injection or benign), ``kind`` and ``split``."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def scores(rows: list[dict[str, str]]) -> dict[str, Any]:
    """Precision, recall and the counts behind them for ``rows``, with every mistake."""
    flagged = [matching_rule(r["text"]) is not None for r in rows]
    positive = [r["label"] == "injection" for r in rows]
    tp = sum(f and p for f, p in zip(flagged, positive, strict=True))
    fp = sum(f and not p for f, p in zip(flagged, positive, strict=True))
    fn = sum(p and not f for f, p in zip(flagged, positive, strict=True))
    return {
        "injections": sum(positive),
        "benign": len(rows) - sum(positive),
        "true_positives": tp,
        "false_positives": fp,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "missed": [r["text"] for r, f, p in zip(rows, flagged, positive, strict=True) if p and not f],
        "wrongly_flagged": [
            r["text"] for r, f, p in zip(rows, flagged, positive, strict=True) if f and not p
        ],
    }


def set_report(rows: list[dict[str, str]]) -> dict[str, Any]:
    """Scores over the whole set, per split, and recall per kind of injection."""
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        if r["label"] == "injection":
            by_kind[r["kind"]].append(matching_rule(r["text"]) is not None)
    return {
        "all": scores(rows),
        "splits": {
            s: scores([r for r in rows if r["split"] == s]) for s in sorted({r["split"] for r in rows})
        },
        "recall_by_kind": {k: round(sum(v) / len(v), 3) for k, v in sorted(by_kind.items())},
    }


def corpus_report(roots: list[Path], settings: Settings) -> dict[str, Any]:
    """Chunks and flagged chunks of each corpus, chunked as ``eka ingest`` does."""
    count = TokenCounter(model_spec(settings.embedding_model).tokenizer_file())
    out: dict[str, Any] = {}
    for root in roots:
        chunks = 0
        flagged: list[dict[str, Any]] = []
        for candidate in discover(root):
            if not supported(candidate.path):
                continue
            try:
                blocks = load(candidate.path).blocks
            except LoadError:
                continue
            drafts = chunk_blocks(blocks, count, settings.chunk_tokens, settings.chunk_overlap_tokens)
            chunks += len(drafts)
            for draft in drafts:
                rule = matching_rule(draft.text)
                if rule is not None:
                    flagged.append({"source": candidate.source, "page": draft.page, "rule": rule})
        out[str(root)] = {
            "chunks": chunks,
            "flagged": len(flagged),
            "false_positive_rate": len(flagged) / chunks if chunks else 0.0,
            "flagged_chunks": flagged,
        }
    return out


def main(argv: list[str] | None = None) -> None:
    """Print the set's precision and recall and each corpus's false-positive rate."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("corpora", nargs="*", type=Path, help="folders to chunk and scan")
    parser.add_argument("--set", type=Path, default=SET, dest="set_path")
    parser.add_argument("--out", type=Path, help="write the full report as JSON")
    args = parser.parse_args(argv)

    report = {"set": set_report(read_set(args.set_path)), "corpora": corpus_report(args.corpora, Settings())}
    for name, s in [("all", report["set"]["all"]), *report["set"]["splits"].items()]:
        print(
            f"{name:8} injections {s['injections']:3}  benign {s['benign']:3}  "
            f"precision {s['precision']:.3f}  recall {s['recall']:.3f}  "
            f"(TP {s['true_positives']}, FP {s['false_positives']})"
        )
    print("recall by kind:", ", ".join(f"{k} {v:.2f}" for k, v in report["set"]["recall_by_kind"].items()))
    for text in report["set"]["all"]["missed"]:
        print(f"  missed:          {text!r}")
    for text in report["set"]["all"]["wrongly_flagged"]:
        print(f"  wrongly flagged: {text!r}")
    for root, c in report["corpora"].items():
        print(
            f"corpus {root}: {c['flagged']} of {c['chunks']} chunks flagged ({c['false_positive_rate']:.2%})"
        )
        for f in c["flagged_chunks"]:
            print(f"  {f['source']} page {f['page']}: {f['rule']}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
