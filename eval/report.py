"""Writing an evaluation: report.json, a Markdown table with the best value per column in bold, and plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

COLUMNS = ("ndcg@10", "recall@1", "recall@5", "recall@10", "recall@100", "mrr@10", "map@100")


def markdown(report: dict[str, Any]) -> str:
    """A table of every configuration's metrics, latency and build time; the best per column in bold."""
    configs = report["configs"]
    best = {c: max((cfg["metrics"].get(c, 0.0) for cfg in configs.values()), default=0.0) for c in COLUMNS}
    fastest = min((cfg["latency_ms"]["p50"] for cfg in configs.values()), default=0.0)
    lines = [
        f"## {report['dataset']}",
        "",
        f"queries: {next(iter(configs.values()))['queries'] if configs else 0}"
        + (f" · unanswerable (left out): {report['unanswerable']}" if "unanswerable" in report else "")
        + f" · commit `{report['git_commit'][:10]}` · corpus sha256 `{report['corpus_sha256'][:12]}`",
        "",
        "| config | " + " | ".join(COLUMNS) + " | latency p50 / p95 ms | index build s |",
        "|---|" + "---|" * (len(COLUMNS) + 2),
    ]
    for name, cfg in configs.items():
        cells = []
        for column in COLUMNS:
            value = cfg["metrics"].get(column, 0.0)
            text = f"{value:.3f}"
            cells.append(f"**{text}**" if value == best[column] and value > 0 else text)
        p50, p95 = cfg["latency_ms"]["p50"], cfg["latency_ms"]["p95"]
        latency = f"{p50:.1f} / {p95:.1f}"
        latency = f"**{latency}**" if p50 == fastest else latency
        build = f"{cfg['index_build_s']:.1f}" + (" (cached)" if cfg.get("index_cached") else "")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {latency} | {build} |")
    kinds = {k for cfg in configs.values() for k in cfg.get("per_kind", {})}
    if kinds:
        lines += [
            "",
            "Recall@5 by question kind:",
            "",
            "| config | " + " | ".join(f"{k} (n={_n(configs, k)})" for k in sorted(kinds)) + " |",
            "|---|" + "---|" * len(kinds),
        ]
        for name, cfg in configs.items():
            row = [f"{cfg['per_kind'].get(k, {}).get('recall@5', 0.0):.3f}" for k in sorted(kinds)]
            lines.append(f"| {name} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def _n(configs: dict[str, Any], kind: str) -> int:
    for cfg in configs.values():
        if kind in cfg.get("per_kind", {}):
            return int(cfg["per_kind"][kind]["n"])
    return 0


def plots(report: dict[str, Any], out: Path) -> list[Path]:
    """Recall@k curves per configuration and, for QA sets, Recall@5 per question kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for name, cfg in report["configs"].items():
        curve = {int(k): v for k, v in cfg.get("recall_curve", {}).items()}
        if curve:
            ks = sorted(curve)
            axes.plot(ks, [curve[k] for k in ks], marker="o", label=name)
    axes.set_xscale("log")
    axes.set_xlabel("k")
    axes.set_ylabel("Recall@k")
    axes.set_title(f"Recall@k — {report['dataset']}")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    path = out / "recall_at_k.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    written.append(path)
    kinds = sorted({k for cfg in report["configs"].values() for k in cfg.get("per_kind", {})})
    if kinds:
        figure, axes = plt.subplots(figsize=(8, 4.5))
        names = list(report["configs"])
        width = 0.8 / max(len(names), 1)
        for i, name in enumerate(names):
            values = [
                report["configs"][name].get("per_kind", {}).get(k, {}).get("recall@5", 0.0) for k in kinds
            ]
            axes.bar([x + i * width for x in range(len(kinds))], values, width=width, label=name)
        axes.set_xticks([x + width * (len(names) - 1) / 2 for x in range(len(kinds))], kinds)
        axes.set_ylabel("Recall@5")
        axes.set_ylim(0, 1)
        axes.set_title(f"Recall@5 by question kind — {report['dataset']}")
        axes.legend(fontsize=8)
        figure.tight_layout()
        path = out / "per_kind.png"
        figure.savefig(path, dpi=110)
        plt.close(figure)
        written.append(path)
    return written


def write(report: dict[str, Any], out: Path) -> list[Path]:
    """Write report.json, report.md and the plots into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / "report.md").write_text(markdown(report), encoding="utf-8")
    return [out / "report.json", out / "report.md", *plots(report, out)]
