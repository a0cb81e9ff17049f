"""Benchmarks: speed and behaviour measurements that are too long for the test suite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def emit(results: Any, out: Path | None) -> None:
    """Print ``results`` as JSON and, with ``out``, write them there too (its folder made as needed)."""
    text = json.dumps(results, indent=2)
    print(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
