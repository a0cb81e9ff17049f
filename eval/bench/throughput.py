"""Throughput benchmark: searches and answers per second through `eka serve`, by workers and concurrency.

For each number of workers, it starts `eka serve --workers N` on a home with a corpus ingested (the samples
by default; ingested once and reused), creates a key that reads every group, and for each concurrency C runs
C client threads for ``--seconds`` seconds (after a warm-up that sends every question to every worker), each
sending the corpus's questions in turn (`POST /v1/search`
or `POST /v1/answer`, each thread with its own keep-alive connection). It reports requests per second and
latency p50/p95 per (route, workers, concurrency) as JSON and a Markdown table.

Usage:
    python -m eval.bench.throughput [--corpus samples] [--questions samples/questions.jsonl]
        [--workers 1 2] [--concurrency 1 8] [--routes search answer] [--seconds 20] [--home DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from assistant.sqlite_store import SQLiteStore

ROOT = Path(__file__).resolve().parents[2]


def _env(home: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EKA_")}
    env.update({"EKA_HOME": str(home), **{f"EKA_{k.upper()}": v for k, v in settings.items()}})
    return env


def eka(home: Path, *args: str, database_url: str | None = None) -> str:
    """Run ``eka`` against ``home`` (and the PostgreSQL database ``database_url``, when given)."""
    done = subprocess.run(
        [sys.executable, "-m", "eka", *args],
        env=_env(home, **({"database_url": database_url} if database_url else {})),
        cwd=home,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"eka {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(home: Path, workers: int, database_url: str | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``eka serve --workers N`` over ``home`` (or ``database_url``); returns it and its URL once every
    worker answers ``/readyz``."""
    port = _free_port()
    log = (home / f"bench-serve-{workers}.log").open("wb")
    settings = {"rate_limit_per_minute": "100000000"}
    if database_url:
        settings["database_url"] = database_url
    process = subprocess.Popen(
        [sys.executable, "-m", "eka", "serve", "--port", str(port), "--workers", str(workers)],
        env=_env(home, **settings),
        cwd=home,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    ready = 0
    while ready < 20:  # every worker answers /readyz: ask until 20 in a row on fresh connections say ready
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"eka serve did not start; see {log.name}")
        try:
            ready = ready + 1 if httpx.get(f"{url}/readyz", timeout=5).status_code == 200 else 0
        except httpx.TransportError:
            ready = 0
        time.sleep(0.1 if ready else 0.5)
    return process, url


def run_clients(
    url: str, key: str, route: str, questions: list[str], concurrency: int, seconds: float
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(offset: int) -> None:
        nonlocal errors
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=300) as http:
            n = offset
            while time.monotonic() < stop:
                question = questions[n % len(questions)]
                body = _body(route, question)
                started = time.perf_counter()
                response = http.post(f"/v1/{route}", json=body)
                took = time.perf_counter() - started
                with lock:
                    if response.status_code == 200:
                        latencies.append(took)
                    else:
                        errors += 1
                n += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i * 7,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "errors": errors,
        "per_second": round(len(latencies) / elapsed, 2),
        "p50_ms": round(statistics.median(ordered) * 1000, 1) if ordered else None,
        "p95_ms": round(ordered[math.ceil(0.95 * len(ordered)) - 1] * 1000, 1) if ordered else None,
    }


def warm(url: str, key: str, route: str, questions: list[str], connections: int) -> None:
    """Every question once on each of several connections, so that every worker has seen every question
    (the rates measured are warm-cache rates: query and sentence vectors are cached per process)."""

    def client() -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=300) as http:
            for question in questions:
                http.post(f"/v1/{route}", json=_body(route, question))

    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=ROOT / "samples")
    parser.add_argument("--questions", type=Path, default=ROOT / "samples" / "questions.jsonl")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--routes", nargs="+", choices=["search", "answer"], default=["search", "answer"])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--home", type=Path, default=Path("eval-out/throughput-home"))
    parser.add_argument("--out", type=Path, default=Path("eval-out/throughput"))
    args = parser.parse_args(argv)

    home = args.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "eka.sqlite3").exists():
        eka(home, "ingest", str(args.corpus.resolve()))
    key = json.loads(eka(home, "keys", "create", "--user", "bench", "--groups", _all_groups(home), "--json"))[
        "key"
    ]
    lines = args.questions.read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]

    results: list[dict[str, Any]] = []
    for workers in args.workers:
        process, url = serve(home, workers)
        try:
            for route in args.routes:
                warm(url, key, route, questions, connections=4 * workers)
                for concurrency in args.concurrency:
                    row = {"route": route, "workers": workers, "concurrency": concurrency}
                    row |= run_clients(url, key, route, questions, concurrency, args.seconds)
                    print(json.dumps(row), flush=True)
                    results.append(row)
        finally:
            process.terminate()
            process.wait(timeout=30)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps({"cpus": os.cpu_count(), "results": results}, indent=2))
    table = [
        "| route | workers | concurrency | req/s | p50 ms | p95 ms | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    table += [
        f"| {r['route']} | {r['workers']} | {r['concurrency']} | {r['per_second']} | {r['p50_ms']} | "
        f"{r['p95_ms']} | {r['errors']} |"
        for r in results
    ]
    (args.out / "report.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))


def _all_groups(home: Path) -> str:
    """Every group of the ingested corpus (the bench reads everything)."""
    store = SQLiteStore(home / "eka.sqlite3")
    try:
        return ",".join(sorted({g for s in store.documents() for g in s.document.acl} | {"public"}))
    finally:
        store.close()


def _body(route: str, question: str) -> dict[str, str]:
    return {"query": question} if route == "search" else {"question": question}


if __name__ == "__main__":
    main()
