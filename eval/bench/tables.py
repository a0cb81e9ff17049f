"""PDF table benchmark: how many table rows each reader gives as one line (or one row) with all their cells.

Readers compared, page by page:
- ``plain``: pypdf's ``extract_text()`` (eka's page-text reader);
- ``layout``: pypdf's ``extract_text(extraction_mode="layout")``;
- ``pdfplumber``: pdfplumber's table finder (default lattice settings), if pdfplumber is installed;
- ``eka``: ``ingest.pdf_tables`` (ruled tables from pdfium, matched to pypdf's lines) as the loader uses it.

A row counts as whole for ``plain``/``layout`` when one line holds all its cells in order, for ``pdfplumber``
when one extracted row equals its cells, for ``eka`` when one table row block equals its cells. A header
counts as found when the reader marks it as the header (the first row of a pdfplumber table; eka's
``table_header`` block); plain and layout text has no header.

The reference rows: for the sample PDFs, the tables written by ``scripts/build_samples.py`` (the truth); for
other PDFs, the rows of the tables eka placed (each checked against pypdf's own text), so there the numbers
compare the other readers with eka on the same rows, and ``tables found / placed`` shows what eka left out.

Usage:
    python -m eval.bench.tables samples ../shared/data/engineering-docs --out eval-out/tables.json
"""

from __future__ import annotations

import argparse
import json
import runpy
import time
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

from assistant.tables import parse_row
from ingest.loaders import Block, load
from ingest.pdf_tables import document_tables

ROOT = Path(__file__).resolve().parents[2]
Row = tuple[str, ...]


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


def _in_order(line: str, cells: Row) -> bool:
    """Whether ``line`` holds every non-empty cell of a row, in order."""
    position = 0
    for cell in (_norm(c) for c in cells):
        if not cell:
            continue
        found = line.find(cell, position)
        if found < 0:
            return False
        position = found + len(cell)
    return True


def sample_truth(root: Path) -> dict[str, list[tuple[Row, list[Row]]]]:
    """The tables of each sample PDF (header, rows), from the script that writes them."""
    spec = runpy.run_path(str(ROOT / "scripts" / "build_samples.py"), run_name="eka_bench")
    out: dict[str, list[tuple[Row, list[Row]]]] = {}
    for doc in spec["PDF_DOCS"]:
        if not (root / doc["path"]).exists():
            continue
        tables = [(tuple(doc["info"][0]), [tuple(r) for r in doc["info"][1:]])]
        for block in doc["blocks"]:
            if block[0] == "table":
                tables.append((tuple(block[1]), [tuple(r) for r in block[2]]))
        out[doc["path"]] = tables
    return out


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def _text_lines(path: Path, layout: bool) -> tuple[list[str], float]:
    from pypdf import PdfReader

    reader = PdfReader(path)
    mode: Literal["plain", "layout"] = "layout" if layout else "plain"
    pages, seconds = _timed(lambda: [page.extract_text(extraction_mode=mode) or "" for page in reader.pages])
    return [_norm(line) for text in pages for line in text.split("\n") if line.strip()], seconds


def _pdfplumber_rows(path: Path) -> tuple[list[Row], list[Row], float] | None:
    try:
        import pdfplumber
    except ImportError:
        return None

    def read() -> tuple[list[Row], list[Row]]:
        rows: list[Row] = []
        headers: list[Row] = []
        with pdfplumber.open(path) as pdf:
            for page in pdf.pages:
                for table in page.extract_tables():
                    cleaned = [tuple(_norm(c or "") for c in row) for row in table]
                    cleaned = [row for row in cleaned if any(row)]
                    if cleaned:
                        headers.append(cleaned[0])
                        rows.extend(cleaned)
                page.close()
        return rows, headers

    (rows, headers), seconds = _timed(read)
    return rows, headers, seconds


def _strip_empty(row: Iterable[str]) -> Row:
    return tuple(c for c in (_norm(x) for x in row) if c)


def measure(path: Path, truth: list[tuple[Row, list[Row]]] | None) -> dict[str, Any]:
    """One PDF: the reference rows, and for each reader rows whole, headers found and seconds."""
    tables_by_page, tables_s = _timed(lambda: document_tables(str(path)))
    parsed, load_s = _timed(lambda: load(path))
    blocks: list[Block] = parsed.blocks
    eka_rows = [_strip_empty(parse_row(b.text) or []) for b in blocks if b.kind.startswith("table")]
    eka_headers = {_strip_empty(parse_row(b.text) or []) for b in blocks if b.kind == "table_header"}
    found = sum(len(t) for t in tables_by_page.values())
    placed = len({b.table for b in blocks if b.kind == "table_header"})
    if truth is None:  # the rows eka placed are the reference
        reference: list[tuple[Row, list[Row]]] = []
        current: list[Row] = []
        for block in blocks:
            cells = tuple(parse_row(block.text) or [])
            if block.kind == "table_header":
                current = []
                reference.append((cells, current))
            elif block.kind == "table_row":
                current.append(cells)
        kind = "eka-placed"
    else:
        reference, kind = truth, "truth"
    rows = [row for header, body in reference for row in (header, *body)]
    headers = [header for header, _ in reference]
    out: dict[str, Any] = {
        "pages": parsed.pages,
        "reference": kind,
        "tables": len(reference),
        "rows": len(rows),
        "eka_tables_found": found,
        "eka_tables_placed": placed,
        "readers": {},
    }
    for name, layout in (("plain", False), ("layout", True)):
        lines, seconds = _text_lines(path, layout)
        whole = sum(any(_in_order(line, row) for line in lines) for row in rows)
        out["readers"][name] = {"rows_whole": whole, "headers": 0, "seconds": round(seconds, 2)}
    plumber = _pdfplumber_rows(path)
    if plumber is not None:
        p_rows, p_headers, seconds = plumber
        p_set = {_strip_empty(r) for r in p_rows}
        p_head = {_strip_empty(r) for r in p_headers}
        out["readers"]["pdfplumber"] = {
            "rows_whole": sum(_strip_empty(r) in p_set for r in rows),
            "headers": sum(_strip_empty(h) in p_head for h in headers),
            "seconds": round(seconds, 2),
        }
    eka_set = set(eka_rows)
    out["readers"]["eka"] = {
        "rows_whole": sum(_strip_empty(r) in eka_set for r in rows),
        "headers": sum(_strip_empty(h) in eka_headers for h in headers),
        "seconds": round(load_s, 2),
        "tables_seconds": round(tables_s, 2),
    }
    return out


def main(argv: list[str] | None = None) -> None:
    """Measure every PDF under the given folders and print (and optionally write) the results."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    for folder in args.folders:
        truth = sample_truth(folder) if (folder / "questions.jsonl").exists() else {}
        for path in sorted(folder.rglob("*.pdf")):
            source = path.relative_to(folder).as_posix()
            result = measure(path, truth.get(source) if truth else None)
            results[f"{folder.name}/{source}"] = result
            readers = " ".join(
                f"{name}={r['rows_whole']}/{result['rows']} h{r['headers']} {r['seconds']}s"
                for name, r in result["readers"].items()
            )
            print(
                f"{folder.name}/{source}: {result['pages']} p, {result['tables']} tables; {readers}",
                flush=True,
            )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
