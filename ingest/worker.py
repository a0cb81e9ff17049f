"""Parsing and chunking in worker processes, with a per-file time limit.

A parser that hangs or crashes on one bad file must not take the run down with it. Each file is parsed in a
separate process under an alarm; a worker that stops answering is killed and replaced, and the file gets a
clear reason in the report.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from assistant.embedding import TokenCounter
from ingest.chunking import Draft, chunk_blocks
from ingest.loaders import LoadError, load

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ParseJob:
    """One file to parse and chunk."""

    path: Path
    tokenizer_file: Path
    max_tokens: int
    overlap_tokens: int
    timeout_s: float


@dataclass(frozen=True, slots=True)
class ParseResult:
    """A parsed and chunked file, or the reason it could not be."""

    path: Path
    mime: str = ""
    title: str | None = None
    pages: int | None = None
    drafts: tuple[Draft, ...] = ()
    error: str | None = None
    seconds: float = 0.0


class _ParseTimeout(Exception):
    pass


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise _ParseTimeout


_counters: dict[Path, TokenCounter] = {}  # one tokenizer per worker process


def _import_parsers() -> None:
    """Import the parser libraries the loaders import lazily (once per worker process)."""
    import bs4  # noqa: F401
    import docx  # noqa: F401
    import pypdf
    import pypdf.errors  # noqa: F401
    import pypdfium2
    import pypdfium2.raw  # noqa: F401


def parse_file(job: ParseJob) -> ParseResult:
    """Load and chunk one file (runs inside a worker process)."""
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    started = time.perf_counter()
    counter = _counters.get(job.tokenizer_file)
    if counter is None:
        counter = _counters[job.tokenizer_file] = TokenCounter(job.tokenizer_file)
    _import_parsers()  # outside the alarm: an alarm inside an import leaves a half-made module behind
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, job.timeout_s)
    try:
        parsed = load(job.path)
        drafts = chunk_blocks(parsed.blocks, counter, job.max_tokens, job.overlap_tokens)
    except _ParseTimeout:
        return ParseResult(
            job.path,
            error=f"parsing took longer than the {job.timeout_s:g}s limit",
            seconds=time.perf_counter() - started,
        )
    except LoadError as err:
        return ParseResult(job.path, error=str(err), seconds=time.perf_counter() - started)
    except (
        OSError,
        MemoryError,
        RecursionError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        UnicodeError,
    ) as err:
        return ParseResult(
            job.path,
            error=f"unreadable ({type(err).__name__}: {' '.join(str(err).split())[:160]})",
            seconds=time.perf_counter() - started,
        )
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return ParseResult(
        job.path,
        parsed.mime,
        parsed.title,
        parsed.pages,
        tuple(drafts),
        seconds=time.perf_counter() - started,
    )


class ParserPool:
    """Parses files in worker processes, yielding results in submission order with bounded read-ahead."""

    def __init__(self, workers: int = 1, read_ahead: int = 4) -> None:
        self.workers = workers
        self.read_ahead = max(read_ahead, workers)
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: the parent may hold torch threads and an open SQLite connection.
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def _reset(self) -> None:
        if self._pool is not None:
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.kill()
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        """Stop the workers."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> ParserPool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def run(self, jobs: list[ParseJob]) -> Iterator[ParseResult]:
        """Parse every job; each yields exactly one result, in order."""
        pending: list[tuple[ParseJob, Future[ParseResult]]] = []
        queue = list(jobs)
        while queue or pending:
            while queue and len(pending) < self.read_ahead:
                job = queue.pop(0)
                pending.append((job, self._executor().submit(parse_file, job)))
            job, future = pending.pop(0)
            try:
                # The alarm in the worker normally fires first; this is the backstop for code that ignores it.
                yield future.result(timeout=job.timeout_s + 30)
            except FutureTimeout:
                log.warning("worker stuck on %s; restarting it", job.path)
                yield ParseResult(job.path, error=f"parsing took longer than the {job.timeout_s:g}s limit")
                queue = [j for j, _ in pending] + queue
                pending = []
                self._reset()
            except BrokenProcessPool:
                log.warning("parser process died on %s; restarting it", job.path)
                yield ParseResult(job.path, error="the parser crashed on this file")
                queue = [j for j, _ in pending] + queue
                pending = []
                self._reset()
