"""Parsing and chunking in worker processes, with a per-file time limit and a memory limit per process.

A parser that hangs, crashes or runs out of memory on one bad file must not take the run down with it. Each
file is parsed in a separate process under an alarm and an address-space limit; a worker that stops answering
is killed and replaced, and the file gets a clear reason in the report. Whatever a parser raises is turned
into a plain message inside the worker: exceptions that cannot be pickled (lxml's carry their error log) must
never cross the process boundary.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import resource
import signal
import threading
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
    max_unzipped: int = 100 * 1024 * 1024


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


def describe(err: BaseException, limit: int = 160) -> str:
    """An exception as one short line of plain text (even when its ``__str__`` itself fails)."""
    try:
        text = " ".join(str(err).split())
    except Exception:  # a broken __str__ must not hide the original failure
        text = ""
    return text[:limit] or type(err).__name__


def limit_memory(megabytes: int) -> None:
    """Cap this process's address space (RLIMIT_AS), so a hostile file fails with MemoryError, not the host.

    Runs once in every worker process as the pool's initializer; 0 means no limit.
    """
    if megabytes <= 0:
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    wanted = megabytes * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)  # the process that started this worker is gone (killed): nothing will read our results


def start_worker(megabytes: int, parent: int) -> None:
    """The pool's initializer: a watch that ends this worker once its parent is gone (a SIGKILLed `eka
    ingest` would otherwise leave its parsers waiting forever), then the memory limit."""
    threading.Thread(target=_exit_with, args=(parent,), name="parent-watch", daemon=True).start()
    limit_memory(megabytes)


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
        parsed = load(job.path, job.max_unzipped)
        drafts = chunk_blocks(parsed.blocks, counter, job.max_tokens, job.overlap_tokens)
    except _ParseTimeout:
        return ParseResult(
            job.path,
            error=f"parsing took longer than the {job.timeout_s:g}s limit",
            seconds=time.perf_counter() - started,
        )
    except LoadError as err:
        return ParseResult(job.path, error=describe(err), seconds=time.perf_counter() - started)
    except MemoryError:
        return ParseResult(
            job.path,
            error="parsing needed more memory than the parser process may use (EKA_PARSE_MEMORY_MB)",
            seconds=time.perf_counter() - started,
        )
    except Exception as err:  # any parser bug is this file's failure, as a picklable message
        return ParseResult(
            job.path,
            error=f"unreadable ({type(err).__name__}: {describe(err)})",
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

    def __init__(self, workers: int = 1, read_ahead: int = 4, memory_mb: int = 0) -> None:
        self.workers = workers
        self.read_ahead = max(read_ahead, workers)
        self.memory_mb = memory_mb
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: the parent may hold torch threads and an open SQLite connection.
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=start_worker,
                initargs=(self.memory_mb, os.getpid()),
            )
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
                limit = f" or went over its {self.memory_mb} MB memory limit" if self.memory_mb else ""
                yield ParseResult(job.path, error=f"the parser process crashed{limit} on this file")
                queue = [j for j, _ in pending] + queue
                pending = []
                self._reset()
            except Exception as err:  # e.g. a result that could not be sent back: this file's failure
                log.warning("parsing %s failed outside the parser: %s", job.path, describe(err))
                yield ParseResult(job.path, error=f"unreadable ({type(err).__name__}: {describe(err)})")
