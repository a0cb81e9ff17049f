"""Writing an answer evaluation: report.json, report.md (generators side by side) and answers.png."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUTCOME_COLOURS = {"correct": "#2e7d32", "partial": "#f9a825", "wrong": "#c62828", "refused": "#78909c"}


def _pct(part: int, whole: int) -> str:
    return f"{part}/{whole} ({part / whole:.0%})" if whole else "—"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _ok(report: dict[str, Any]) -> dict[str, Any]:
    return {n: g for n, g in report["generators"].items() if g["status"] == "ok"}


def markdown(report: dict[str, Any]) -> str:
    """The headline table (one row per generator), correct/partial/wrong/refused per kind, and misses."""
    lines = [
        f"## Answers · {report['dataset']}",
        "",
        f"commit `{report['git_commit'][:10]}` · corpus sha256 `{report['corpus_sha256'][:12]}` · key facts "
        f"`{report['keyfacts']}` · {report['started']}"
        + (f" · first {report['limit']}" if report["limit"] else "")
        + (f" · questions {', '.join(report['ids'])}" if report.get("ids") else ""),
        "",
        "| generator | correct | partial | wrong | false refusals | unanswerable refused | wrong entity "
        "| errors | latency p50 / p95 ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, gen in report["generators"].items():
        if gen["status"] != "ok":
            lines.append(f"| {name} | skipped: {gen['reason']} |" + " |" * 7)
            continue
        s = gen["summary"]
        n = s["answerable"]
        lines.append(
            f"| {name} | {_pct(s['correct'], n)} | {_pct(s['partial'], n)} | {_pct(s['wrong'], n)} "
            f"| {_pct(s['false_refusals'], n)} | {_pct(s['refused_unanswerable'], s['unanswerable'])} "
            f"| {s['wrong_entity']} | {s['errors']} "
            f"| {_ms(s['latency_ms']['p50'])} / {_ms(s['latency_ms']['p95'])} |"
        )
    ok = _ok(report)
    kinds = sorted({k for g in ok.values() for k in g["summary"]["per_kind"]})
    if kinds:
        lines += [
            "",
            "Per kind: correct / partial / wrong / refused (n):",
            "",
            "| generator | " + " | ".join(kinds) + " |",
            "|---|" + "---|" * len(kinds),
        ]
        for name, gen in ok.items():
            cells = []
            for kind in kinds:
                c = gen["summary"]["per_kind"].get(kind)
                cells.append(
                    f"{c['correct']} / {c['partial']} / {c['wrong']} / {c['refused']} ({c['n']})"
                    if c
                    else "—"
                )
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for name, gen in ok.items():
        misses = [r for r in gen["questions"] if r["outcome"] != "correct" and r["answerable"]]
        misses += [r for r in gen["questions"] if not r["answerable"] and r["outcome"] != "refused"]
        if not misses:
            continue
        lines += [
            "",
            f"{name}: answers that are not correct (missing facts; cited = a relevant page was cited, "
            "retrieved = one was among the sources):",
            "",
            "| question | kind | outcome | missing facts | wrong entity | cited / retrieved |",
            "|---|---|---|---|---|---|",
        ]
        for r in misses:
            missing = "; ".join(" \\| ".join(f["alternatives"]) for f in r.get("facts", []) if not f["found"])
            where = (
                f"{_yes(r['cited_relevant'])} / {_yes(r['retrieved_relevant'])}"
                if r["answerable"] and "cited_relevant" in r
                else "—"
            )
            lines.append(
                f"| {r['qid']} | {r['kind']} | {r['outcome']} | {missing or '—'} "
                f"| {'yes' if r.get('wrong_entity') else ''} | {where} |"
            )
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], out: Path) -> Path:
    """Stacked shares of correct / partial / wrong / refused per question kind, one panel per generator."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = _ok(report) or {"(none)": {"summary": {"per_kind": {}}}}
    figure, axes = plt.subplots(1, len(ok), figsize=(4.5 * len(ok) + 1.5, 4.5), squeeze=False)
    for ax, (name, gen) in zip(axes[0], ok.items(), strict=True):
        per_kind = gen["summary"]["per_kind"]
        kinds = sorted(per_kind)
        bottom = [0.0] * len(kinds)
        for outcome, colour in OUTCOME_COLOURS.items():
            shares = [per_kind[k][outcome] / per_kind[k]["n"] if per_kind[k]["n"] else 0.0 for k in kinds]
            ax.bar(kinds, shares, bottom=bottom, color=colour, label=outcome)
            bottom = [b + s for b, s in zip(bottom, shares, strict=True)]
        ax.set_ylim(0, 1)
        ax.set_title(name)
        ax.tick_params(axis="x", labelrotation=30)
    axes[0][0].set_ylabel("share of questions")
    axes[0][-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.suptitle(f"Answers by question kind — {report['dataset']}")
    figure.tight_layout()
    path = out / "answers.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def write(report: dict[str, Any], out: Path) -> list[Path]:
    """Write report.json, report.md and answers.png into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (out / "report.md").write_text(markdown(report), encoding="utf-8")
    return [out / "report.json", out / "report.md", plot(report, out)]
